/**
 * Stage 4 (services): each service of the loaded config as the run deploys it — its environment (with
 * abra's exposure of the app's env to the service named `app`), mounts, secrets and configs (templates
 * rendered by dockerd's code), labels (Traefik's rewritten for the run), healthcheck, the run's
 * resource defaults, restart and update policies — named `<STACK_NAME>_<service>`.
 */
import type { RunLimits } from "../config";
import { contentHash, fitName, OBJECT_NAME_MAX, SERVICE_NAME_MAX } from "../naming";
import { BYTE_SIZE, bytes } from "../units";
import type { Service } from "./composeConfig";
import type {
  ConfigSpec,
  FileRefSpec,
  MountSpec,
  NetworkSpec,
  SecretSpec,
  ServiceSpec,
  VolumeSpec,
} from "./model";
import { anonymousVolume, runName, type ConfigFile, type PlanContext } from "./plan";
import { renderTemplates, type RenderItem, type TemplatePart } from "./template";
import { LOG_ROTATED } from "./rules";
import { isTraefikLabel, rewriteTraefik, type TraefikOptions } from "./traefik";

export interface ServiceObjects {
  networks: Map<string, NetworkSpec | "proxy">;
  volumes: Map<string, VolumeSpec>;
  secrets: Map<string, SecretSpec>;
  configFiles: Map<string, ConfigFile>;
}

export interface ServiceOptions {
  limits: RunLimits;
  labels: Record<string, string>;
  images: Record<string, string>;
  traefik: TraefikOptions;
  /** The app's env as abra exposes it to the service named `app`. */
  appEnv: Record<string, string>;
  recipe: string;
}

/** The service abra exposes the whole env file to. */
export const APP_SERVICE = "app";

/** Plans every service; templates of all services are rendered in one call of the renderer. */
export function planServices(
  ctx: PlanContext,
  objects: ServiceObjects,
  o: ServiceOptions,
): { services: ServiceSpec[]; configs: ConfigSpec[] } {
  const services: ServiceSpec[] = [];
  const pending: { svc: ServiceSpec; refs: { ref: FileRefSpec; file: ConfigFile }[] }[] = [];
  const items: RenderItem[] = [];
  const deployLabels = new Map<string, Record<string, string>>();
  for (const [key, svc] of Object.entries(ctx.config.services)) {
    const spec = planService(ctx, key, svc, objects, o);
    deployLabels.set(key, svc.deploy?.labels ?? {});
    services.push(spec);
  }
  // Traefik's labels, checked and rewritten for all services at once (its names are global).
  const traefik = rewriteTraefik(
    services.map((s) => ({ key: s.key, name: s.name, labels: deployLabels.get(s.key) ?? {} })),
    o.traefik,
    (_svc, path, message) => ctx.problems.push(ctx.at(path, message)),
    (m) => ctx.warnings.push(m),
  );
  for (const spec of services) {
    const t = traefik.get(spec.key);
    spec.labels = { ...(t?.labels ?? {}), ...abraLabels(ctx.stackName, spec.key, o.recipe), ...o.labels };
    spec.routers = t?.routers ?? [];
  }
  for (const spec of services) {
    const key = spec.key;
    const svc = ctx.config.services[key];
    const refs: { ref: FileRefSpec; file: ConfigFile }[] = [];
    (svc.configs ?? []).forEach((c, i) => {
      const file = objects.configFiles.get(c.source);
      if (!file) {
        if (!ctx.config.configs?.[c.source])
          ctx.problems.push(
            ctx.at(
              `services.${key}.configs.${i}`,
              `config "${c.source}" is not declared in the top-level configs`,
            ),
          );
        return;
      }
      refs.push({ ref: fileRef(c), file });
    });
    pending.push({ svc: spec, refs });
    for (const { file } of refs)
      if (file.template)
        items.push({
          id: `${file.key}\u0000${key}`,
          template: file.content,
          env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
          secrets: Object.fromEntries(spec.secrets.map((s) => [s.target, s.key])),
          configs: Object.fromEntries(refs.map((r) => [r.ref.target, r.file.content])),
          service: { name: spec.name, labels: spec.labels },
        });
  }
  const rendered = renderTemplates(items);
  const configs: ConfigSpec[] = [];
  for (const { svc, refs } of pending) {
    for (const { ref, file } of refs) {
      let parts: TemplatePart[] = [file.content];
      let key = file.key;
      let name = file.name;
      if (file.template) {
        const r = rendered.get(`${file.key}\u0000${svc.key}`);
        if (!r || "error" in r) {
          ctx.problems.push(
            ctx.at(`configs.${file.key}`, `${r?.error ?? "not rendered"} (rendered for service ${svc.key})`),
          );
          continue;
        }
        // Docker renders per task with the service's environment: one template, one content per service.
        parts = r.parts;
        key = `${file.key}.${svc.key}`;
        name = `${file.name}_${svc.key}`;
      }
      const finalName = fitName(`${name}_${contentHash(JSON.stringify(parts))}`, OBJECT_NAME_MAX);
      if (!configs.some((x) => x.key === key))
        configs.push({ key, name: finalName, parts, sensitive: parts.some((p) => typeof p !== "string") });
      svc.configs.push({ ...ref, key });
    }
  }
  return { services, configs };
}

function planService(
  ctx: PlanContext,
  key: string,
  svc: Service,
  objects: ServiceObjects,
  o: ServiceOptions,
): ServiceSpec {
  const where = `services.${key}`;
  // Environment: Docker's loader already took bare names from the env; a name it could not set stays unset.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(svc.environment ?? {})) if (v !== null) env[k] = v;
  if (key === APP_SERVICE)
    for (const [k, v] of Object.entries(o.appEnv)) if (!(k in (svc.environment ?? {}))) env[k] = v;

  const networks: ServiceSpec["networks"] = [];
  const refs = svc.networks && Object.keys(svc.networks).length > 0 ? svc.networks : { default: null };
  for (const [netKey, conf] of Object.entries(refs)) {
    const net = objects.networks.get(netKey);
    if (!net) {
      ctx.problems.push(
        ctx.at(`${where}.networks.${netKey}`, "refers to a network the recipe does not declare"),
      );
      continue;
    }
    // On the shared proxy network only the unique service name resolves; a plain alias such as "app"
    // would be shared with every other run's "app".
    networks.push(
      net === "proxy"
        ? { network: ctx.proxyNetwork, aliases: [] }
        : { network: net.name, aliases: [key, ...(conf?.aliases ?? [])] },
    );
  }

  const mounts: MountSpec[] = [];
  (svc.volumes ?? []).forEach((m, i) => {
    if (m.type === "bind") {
      const r = ctx.files.resolve(m.source ?? "");
      // The rules refused binds outside the recipe unless allowed; inside, the run's copy is mounted read-only.
      mounts.push({
        type: "bind",
        source: r.ok ? r.path : (m.source ?? ""),
        target: m.target,
        readOnly: r.ok ? true : (m.read_only ?? false),
      });
    } else if (m.type === "tmpfs") {
      mounts.push({
        type: "tmpfs",
        target: m.target,
        readOnly: m.read_only ?? false,
        tmpfsSizeBytes: m.tmpfs?.size ?? bytes(o.limits.maxTmpfs),
      });
    } else if (m.type === "volume") {
      if (!m.source)
        mounts.push({
          type: "volume",
          source: anonymousVolume(ctx, objects.volumes, key, m.target),
          target: m.target,
          readOnly: m.read_only ?? false,
        });
      else if (!objects.volumes.has(m.source))
        ctx.problems.push(
          ctx.at(
            `${where}.volumes.${i}.source`,
            `volume "${m.source}" is not declared in the top-level volumes`,
          ),
        );
      else
        mounts.push({
          type: "volume",
          source: m.source,
          target: m.target,
          readOnly: m.read_only ?? false,
          noCopy: m.volume?.nocopy,
        });
    }
  });

  const secrets: FileRefSpec[] = [];
  (svc.secrets ?? []).forEach((s, i) => {
    if (!objects.secrets.has(s.source))
      ctx.problems.push(
        ctx.at(`${where}.secrets.${i}`, `secret "${s.source}" is not declared in the top-level secrets`),
      );
    else secrets.push(fileRef(s));
  });

  for (const k of Object.keys(svc.labels ?? {}))
    if (isTraefikLabel(k))
      ctx.warnings.push(
        `${where}.labels.${k}: Traefik reads swarm services' deploy.labels, not container labels`,
      );
  const name = fitName(runName(ctx.stackName, key, SERVICE_NAME_MAX), SERVICE_NAME_MAX);
  if (name !== `${ctx.stackName}_${key}`)
    ctx.warnings.push(
      `${where}: the service name is shortened to ${name} (Swarm allows ${SERVICE_NAME_MAX} characters); \${STACK_NAME}_${key} does not reach it`,
    );

  const h = svc.healthcheck;
  if (h?.start_interval)
    ctx.warnings.push(
      `${where}.healthcheck.start_interval: not applied (neither this engine nor the docker provider supports it)`,
    );
  const d = svc.deploy ?? {};
  if (d.endpoint_mode === "vip")
    ctx.warnings.push(
      `${where}.deploy.endpoint_mode: vip replaced by dnsrr (virtual IPs do not route on every swarm; DNS round robin does)`,
    );
  const lim = d.resources?.limits;
  const res = d.resources?.reservations;
  return {
    key,
    name,
    image: substituteImage(svc.image ?? "", o.images),
    command: svc.command,
    entrypoint: svc.entrypoint,
    env,
    labels: {}, // set by planServices once Traefik's labels are checked
    containerLabels: { ...(svc.labels ?? {}), ...o.labels },
    networks,
    mounts,
    secrets,
    configs: [],
    healthcheck:
      h &&
      (h.disable
        ? { test: ["NONE"] }
        : h.test
          ? {
              test: h.test,
              interval: h.interval,
              timeout: h.timeout,
              startPeriod: h.start_period,
              retries: h.retries,
            }
          : undefined),
    mode: d.mode === "global" ? "global" : { replicas: d.replicas ?? 1 },
    restartPolicy: d.restart_policy && {
      condition: d.restart_policy.condition,
      delay: d.restart_policy.delay,
      maxAttempts: d.restart_policy.max_attempts,
      window: d.restart_policy.window,
    },
    updateConfig: d.update_config && {
      parallelism: d.update_config.parallelism,
      delay: d.update_config.delay,
      failureAction: d.update_config.failure_action,
      monitor: d.update_config.monitor,
      maxFailureRatio: d.update_config.max_failure_ratio?.toString(),
      order: d.update_config.order,
    },
    // The run's defaults where the recipe sets no limit: no task may take the whole host.
    resources: {
      limits: {
        // 0 is "no limit" to Docker: the run's default instead (rules.ts warns).
        memoryBytes: lim?.memory !== undefined && lim.memory > 0 ? lim.memory : bytes(o.limits.memory),
        nanoCpus: Math.round((Number(lim?.cpus) > 0 ? Number(lim?.cpus) : o.limits.cpus) * 1e9),
      },
      reservations: res && {
        memoryBytes: res.memory,
        nanoCpus: res.cpus !== undefined ? Math.round(Number(res.cpus) * 1e9) : undefined,
      },
    },
    placement: {
      constraints: [],
      prefs: (d.placement?.preferences ?? []).map((p) => `spread=${p.spread}`),
      maxReplicas: d.placement?.max_replicas_per_node,
    },
    stopGracePeriod: svc.stop_grace_period,
    stopSignal: svc.stop_signal,
    user: svc.user,
    workingDir: svc.working_dir,
    hostname: svc.hostname,
    hosts: (svc.extra_hosts ?? []).map(hostEntry),
    dns: svc.dns ?? [],
    init: svc.init,
    readOnly: svc.read_only,
    capDrop: svc.cap_drop ?? [],
    capAdd: svc.cap_add ?? [],
    sysctls: {},
    logging: boundedLogging(svc.logging, o.limits),
    routers: [],
  };
}

/** The labels abra puts on the `app` service (coop-cloud.<stack>.recipe/.version/.chaos). */
function abraLabels(stackName: string, key: string, recipe: string): Record<string, string> {
  if (key !== APP_SERVICE) return {};
  return { [`coop-cloud.${stackName}.recipe`]: recipe, [`coop-cloud.${stackName}.chaos`]: "true" };
}

function fileRef(ref: {
  source: string;
  target?: string;
  uid?: string;
  gid?: string;
  mode?: number;
}): FileRefSpec {
  return { key: ref.source, target: ref.target ?? ref.source, uid: ref.uid, gid: ref.gid, mode: ref.mode };
}

/** extra_hosts as Docker's loader writes them: `host:ip` or `host=ip`. */
function hostEntry(entry: string): { host: string; ip: string } {
  const i = entry.search(/[:=]/);
  return { host: entry.slice(0, i), ip: entry.slice(i + 1) };
}

export function substituteImage(image: string, images: Record<string, string>): string {
  if (images[image]) return images[image];
  const repo = image.replace(/@.*$/, "").replace(/:[^/:]+$/, "");
  return images[repo] ?? image;
}

/**
 * Every task logs within the run's budget: json-file (the engine's default driver, given explicitly so
 * no daemon default applies) or local, with max-size and max-file no larger than the limits; `none`
 * as the recipe says. Other drivers are refused or allowed by the rules (rules.ts), options and all.
 */
export function boundedLogging(
  logging: { driver?: string; options?: Record<string, string> } | undefined,
  limits: RunLimits,
): { driver: string; options: Record<string, string> } {
  const driver = logging?.driver ?? "json-file";
  const options = { ...(logging?.options ?? {}) };
  if (!LOG_ROTATED.has(driver)) return { driver, options };
  const maxSize = bytes(limits.logMaxSize);
  const asked =
    options["max-size"] !== undefined && BYTE_SIZE.test(options["max-size"])
      ? bytes(options["max-size"])
      : Infinity;
  options["max-size"] = asked <= maxSize ? options["max-size"] : String(maxSize);
  const files = Number(options["max-file"]);
  options["max-file"] = String(
    Number.isInteger(files) && files > 0 && files <= limits.logMaxFiles ? files : limits.logMaxFiles,
  );
  return { driver, options };
}
