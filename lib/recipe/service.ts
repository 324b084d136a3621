/**
 * Stage 4 (services): each service of the loaded config as the run deploys it — its environment (with
 * abra's exposure of the app's env to the service named `app`), mounts, secrets and configs (templates
 * rendered by dockerd's code), labels (Traefik's rewritten for the run), healthcheck, the run's
 * resource defaults, restart and update policies — named `<STACK_NAME>_<service>`.
 */
import type { RunLimits } from "../config";
import { fitName, OBJECT_NAME_MAX, SERVICE_NAME_MAX } from "../naming";
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
import { deploySettings, serviceHealthcheck } from "./serviceDeploy";
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
  // How many services mount each template: one keeps the config's own name.
  const users = new Map<string, Set<string>>();
  for (const { svc, refs } of pending)
    for (const { file } of refs)
      if (file.template) users.set(file.key, (users.get(file.key) ?? new Set()).add(svc.key));
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
        // Docker renders per task with the service's environment: one template, one content per
        // service. Mounted by one service, the config keeps the recipe's name; by several, each
        // service's rendering is `<name>_<service>`.
        parts = r.parts;
        key = `${file.key}.${svc.key}`;
        if ((users.get(file.key)?.size ?? 0) > 1) name = `${file.name}_${svc.key}`;
      }
      // The recipe's own name (`${STACK_NAME}_<name>_${VERSION}`), as abra deploys it: a content
      // changed without its version bumped fails an upgrade here as it does on a server.
      const finalName = fitName(name, OBJECT_NAME_MAX);
      const same = configs.find((x) => x.key === key || x.name === finalName);
      if (same && same.key !== key && JSON.stringify(same.parts) !== JSON.stringify(parts)) {
        // Docker keeps one config of a name and refuses to change its content.
        ctx.problems.push(
          ctx.at(
            `configs.${file.key}`,
            `is named ${finalName}, as is config ${same.key.split(".")[0]}, with other content: Docker cannot hold both`,
          ),
        );
        continue;
      }
      if (!same)
        configs.push({ key, name: finalName, parts, sensitive: parts.some((p) => typeof p !== "string") });
      svc.configs.push({ ...ref, key: same?.key ?? key });
    }
  }
  // Declared but mounted by no service: `docker stack deploy` creates every config the file declares
  // (a template as written: Docker renders it only for a task that mounts it), so the run does too.
  const mounted = new Set(pending.flatMap((p) => p.refs.map((r) => r.file.key)));
  for (const file of objects.configFiles.values()) {
    const name = fitName(file.name, OBJECT_NAME_MAX);
    if (!mounted.has(file.key) && !configs.some((c) => c.name === name))
      configs.push({ key: file.key, name, parts: [file.content], sensitive: false });
  }
  return { services, configs };
}

type Mount = NonNullable<Service["volumes"]>[number];

/** One service as the run deploys it: each concern planned in turn, its problems and warnings in that order. */
function planService(
  ctx: PlanContext,
  key: string,
  svc: Service,
  objects: ServiceObjects,
  o: ServiceOptions,
): ServiceSpec {
  const where = `services.${key}`;
  const env = serviceEnv(key, svc.environment, o.appEnv);
  const networks = serviceNetworks(ctx, key, svc.networks, objects.networks);
  const mounts = serviceMounts(ctx, key, svc.volumes, objects.volumes, o.limits);
  const secrets = serviceSecrets(ctx, where, svc.secrets, objects.secrets);
  warnTraefikContainerLabels(ctx, where, svc.labels);
  const name = serviceName(ctx, key);
  const healthcheck = serviceHealthcheck(ctx, where, svc.healthcheck);
  const deploy = deploySettings(ctx, where, svc.deploy ?? {}, o.limits);
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
    configs: [], // set by planServices once templates are rendered
    healthcheck,
    ...deploy,
    ...taskSettings(svc, o.limits),
    routers: [], // set by planServices once Traefik's labels are checked
  };
}

/**
 * The service's environment. Docker's loader already took bare names from the env; a name it could
 * not set (null) stays unset. The service named `app` also gets the app's whole env, as abra exposes
 * it, where the service does not set the name itself.
 */
function serviceEnv(
  key: string,
  environment: Service["environment"],
  appEnv: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(environment ?? {})) if (v !== null) env[k] = v;
  if (key === APP_SERVICE)
    for (const [k, v] of Object.entries(appEnv)) if (!(k in (environment ?? {}))) env[k] = v;
  return env;
}

/**
 * The networks the service joins (the stack's `default` when it names none), by their run names.
 * On a stack network the service is reachable by its key and its aliases; on the shared proxy
 * network only by its unique service name, since a plain alias such as "app" would be shared with
 * every other run's "app". A network the recipe does not declare is a problem.
 */
function serviceNetworks(
  ctx: PlanContext,
  key: string,
  serviceNets: Service["networks"],
  declared: ServiceObjects["networks"],
): ServiceSpec["networks"] {
  const networks: ServiceSpec["networks"] = [];
  const refs = serviceNets && Object.keys(serviceNets).length > 0 ? serviceNets : { default: null };
  for (const [netKey, conf] of Object.entries(refs)) {
    const net = declared.get(netKey);
    if (!net) {
      ctx.problems.push(
        ctx.at(`services.${key}.networks.${netKey}`, "refers to a network the recipe does not declare"),
      );
      continue;
    }
    networks.push(
      net === "proxy"
        ? { network: ctx.proxyNetwork, aliases: [] }
        : { network: net.name, aliases: [key, ...(conf?.aliases ?? [])] },
    );
  }
  return networks;
}

/**
 * The service's mounts, in the recipe's order: binds, tmpfs and volumes (each planned below); a
 * mount of any other type is left out (the rules refuse those: not supported on a swarm).
 */
function serviceMounts(
  ctx: PlanContext,
  key: string,
  volumes: Service["volumes"],
  declared: ServiceObjects["volumes"],
  limits: RunLimits,
): MountSpec[] {
  const mounts: MountSpec[] = [];
  (volumes ?? []).forEach((m, i) => {
    const mount =
      m.type === "bind"
        ? bindMount(ctx, m)
        : m.type === "tmpfs"
          ? tmpfsMount(m, limits)
          : m.type === "volume"
            ? volumeMount(ctx, key, m, i, declared)
            : undefined;
    if (mount) mounts.push(mount);
  });
  return mounts;
}

/**
 * A bind mount. The rules refused binds outside the recipe unless allowed; a source inside it is
 * the run's copy of the file, mounted read-only. Any other source is mounted as the recipe says.
 */
function bindMount(ctx: PlanContext, m: Mount): MountSpec {
  const r = ctx.files.resolve(m.source ?? "");
  return {
    type: "bind",
    source: r.ok ? r.path : (m.source ?? ""),
    target: m.target,
    readOnly: r.ok ? true : (m.read_only ?? false),
  };
}

/** A tmpfs mount, sized as the recipe says or else the run's tmpfs limit (never unbounded memory). */
function tmpfsMount(m: Mount, limits: RunLimits): MountSpec {
  return {
    type: "tmpfs",
    target: m.target,
    readOnly: m.read_only ?? false,
    tmpfsSizeBytes: m.tmpfs?.size ?? bytes(limits.maxTmpfs),
  };
}

/**
 * A volume mount. An anonymous volume becomes a volume of the run's own (one per service and
 * target); a named one must be declared in the top-level volumes — otherwise a problem, and no mount.
 */
function volumeMount(
  ctx: PlanContext,
  key: string,
  m: Mount,
  i: number,
  declared: ServiceObjects["volumes"],
): MountSpec | undefined {
  if (!m.source)
    return {
      type: "volume",
      source: anonymousVolume(ctx, declared, key, m.target),
      target: m.target,
      readOnly: m.read_only ?? false,
    };
  if (!declared.has(m.source)) {
    ctx.problems.push(
      ctx.at(
        `services.${key}.volumes.${i}.source`,
        `volume "${m.source}" is not declared in the top-level volumes`,
      ),
    );
    return undefined;
  }
  return {
    type: "volume",
    source: m.source,
    target: m.target,
    readOnly: m.read_only ?? false,
    noCopy: m.volume?.nocopy,
  };
}

/** The secrets the service mounts; each must be declared in the top-level secrets (a problem otherwise). */
function serviceSecrets(
  ctx: PlanContext,
  where: string,
  refs: Service["secrets"],
  declared: ServiceObjects["secrets"],
): FileRefSpec[] {
  const secrets: FileRefSpec[] = [];
  (refs ?? []).forEach((s, i) => {
    if (!declared.has(s.source))
      ctx.problems.push(
        ctx.at(`${where}.secrets.${i}`, `secret "${s.source}" is not declared in the top-level secrets`),
      );
    else secrets.push(fileRef(s));
  });
  return secrets;
}

/**
 * Warns of Traefik labels on the container: Traefik reads a swarm service's deploy.labels, so these
 * route nothing (they are kept as container labels all the same).
 */
function warnTraefikContainerLabels(ctx: PlanContext, where: string, labels: Service["labels"]): void {
  for (const k of Object.keys(labels ?? {}))
    if (isTraefikLabel(k))
      ctx.warnings.push(
        `${where}.labels.${k}: Traefik reads swarm services' deploy.labels, not container labels`,
      );
}

/**
 * The service's name, `<STACK_NAME>_<key>` as `docker stack deploy` names it, shortened to Swarm's
 * limit when longer — with a warning, since the recipe's `${STACK_NAME}_<key>` then misses it.
 */
function serviceName(ctx: PlanContext, key: string): string {
  const name = fitName(runName(ctx.stackName, key, SERVICE_NAME_MAX), SERVICE_NAME_MAX);
  if (name !== `${ctx.stackName}_${key}`)
    ctx.warnings.push(
      `services.${key}: the service name is shortened to ${name} (Swarm allows ${SERVICE_NAME_MAX} characters); \${STACK_NAME}_${key} does not reach it`,
    );
  return name;
}

/**
 * How each task's container runs, as the recipe writes it: stop, user, host names and DNS, init,
 * read-only root, capabilities; logging within the run's budget. No sysctls: the rules refuse them.
 */
function taskSettings(svc: Service, limits: RunLimits) {
  return {
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
    logging: boundedLogging(svc.logging, limits),
  } satisfies Partial<ServiceSpec>;
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
