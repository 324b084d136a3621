/**
 * The recipe loader: a Co-op Cloud recipe folder in, a validated RecipeModel out, or a
 * ValidationError that lists every problem by path. Pure and synchronous (it reads files, nothing
 * else), so a broken recipe fails before any resource is declared.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { ValidationError, zodProblems, type Problem } from "../errors";
import type { RecipePolicy } from "../config";
import {
  fitName,
  prefixedName,
  OBJECT_NAME_MAX,
  SERVICE_NAME_MAX,
  NETWORK_NAME_MAX,
  VOLUME_NAME_MAX,
  contentHash,
} from "../naming";
import { parseEnvFile, type EnvHints } from "./envfile";
import { readCompose, insideRoot, listToMap, networksToMap, isObject, type JsonObject } from "./compose";
import { ComposeFile, KNOWN_SERVICE_KEYS, IGNORED_SERVICE_KEYS, type Service } from "./schema";
import { renderTemplate, type TemplatePart } from "./template";
import type {
  ConfigSpec,
  FileRefSpec,
  MountSpec,
  NetworkSpec,
  RecipeModel,
  RouterSpec,
  SecretSpec,
  ServiceSpec,
  VolumeSpec,
} from "./model";

export interface LoadOptions {
  /** Absolute path of the recipe folder. */
  dir: string;
  /** Recipe name. Default: the folder's name. */
  recipe?: string;
  /** The run's Docker prefix, the recipe's STACK_NAME. */
  stackName: string;
  /** The run's domain, the recipe's DOMAIN. */
  domain: string;
  /** Docker name of the shared proxy network (a recipe's external `proxy` network). */
  proxyNetwork: string;
  /** Traefik entrypoints of this CI. Default: web and web-secure. */
  entrypoints?: { web: string; webSecure: string };
  /** Certificate resolver routers must use; without one, certresolver labels are dropped. */
  certResolver?: string;
  /**
   * The CI serves runs over plain HTTP (no TLS configured): routers only on web-secure get a twin on
   * web, so recipes written for HTTPS are reachable. Default: false.
   */
  plainHttp?: boolean;
  /** The run's own values (CI_*), visible to .env.sample and compose files; they win over both. */
  runVars?: Record<string, string>;
  /** Operator overrides of .env.sample values. */
  env?: Record<string, string>;
  /** Image substitutions (exact reference, or repository without tag). */
  images?: Record<string, string>;
  policy: RecipePolicy;
  /** Labels every Docker object of the run carries. */
  labels: Record<string, string>;
  /** Recipe secret (compose key) whose content is this run variable instead of a generated value. */
  secretFromVar?: Record<string, string>;
}

/** Default length of generated secrets, as abra's. */
export const DEFAULT_SECRET_LENGTH = 32;

const ENTRYPOINT_ALIASES: Record<string, "web" | "webSecure"> = {
  web: "web",
  http: "web",
  "web-secure": "webSecure",
  websecure: "webSecure",
  https: "webSecure",
};

export function loadRecipe(opts: LoadOptions): RecipeModel {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const dir = path.resolve(opts.dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ValidationError(`recipe ${dir}`, [{ path: "", message: "is not a folder" }]);
  }
  const recipe = opts.recipe ?? path.basename(dir);
  const subject = `recipe ${recipe} (${dir})`;

  // 1. .env.sample: the recipe's defaults, with the run's values and the operator's winning.
  const forced: Record<string, string> = {
    ...(opts.env ?? {}),
    ...(opts.runVars ?? {}),
    STACK_NAME: opts.stackName,
    DOMAIN: opts.domain,
  };
  const envPath = path.join(dir, ".env.sample");
  let hints: Record<string, EnvHints> = {};
  let env: Record<string, string> = { ...forced };
  if (existsSync(envPath)) {
    const parsed = parseEnvFile(readFileSync(envPath, "utf8"), forced);
    for (const p of parsed.problems) problems.push({ path: `.env.sample:${p.line}`, message: p.message });
    env = parsed.values;
    hints = parsed.hints;
  } else {
    warnings.push(".env.sample is missing; using compose.yml and the run's values only");
  }
  const composeFile = env.COMPOSE_FILE ?? "compose.yml";

  // 2. Compose files, interpolated and merged.
  const read = readCompose(dir, composeFile, env);
  problems.push(...read.problems);
  warnings.push(...read.warnings);
  if (read.problems.length > 0) throw new ValidationError(subject, problems);
  const parsed = ComposeFile.safeParse(read.doc);
  if (!parsed.success) throw new ValidationError(subject, [...problems, ...zodProblems(parsed.error)]);
  const compose = parsed.data;
  for (const key of Object.keys(compose)) {
    if (
      !["version", "services", "networks", "volumes", "secrets", "configs"].includes(key) &&
      !key.startsWith("x-")
    ) {
      warnings.push(`top-level key "${key}" is not supported by docker stack deploy; ignored`);
    }
  }

  const ctx: Ctx = { opts, dir, env, hints, problems, warnings, compose };
  const networks = buildNetworks(ctx);
  const volumes = buildVolumes(ctx);
  const secrets = buildSecrets(ctx);
  const fileConfigs = readConfigFiles(ctx);
  const configs: ConfigSpec[] = [];
  const services: ServiceSpec[] = [];
  for (const [key, svc] of Object.entries(compose.services)) {
    services.push(buildService(ctx, key, svc, networks, volumes, secrets, fileConfigs, configs));
  }
  const routers = services.flatMap((s) => s.routers.map((r) => ({ ...r, service: s.key })));
  const seen = new Map<string, string>();
  for (const r of routers) {
    const other = seen.get(r.name);
    if (other && other !== r.service) {
      problems.push({
        path: `services.${r.service}.deploy.labels`,
        message: `router "${r.name}" is also declared by service ${other}`,
      });
    }
    seen.set(r.name, r.service);
  }
  if (problems.length > 0) throw new ValidationError(subject, problems);

  const usedVolumes = new Set(
    services.flatMap((s) => s.mounts.filter((m) => m.type === "volume").map((m) => m.source)),
  );
  return {
    recipe,
    dir,
    stackName: opts.stackName,
    domain: opts.domain,
    composeFiles: read.files,
    env,
    services,
    networks: [...networks.values()].filter((n): n is NetworkSpec => n !== "proxy"),
    proxyNetwork: opts.proxyNetwork,
    usesProxy: services.some((s) => s.networks.some((n) => n.network === opts.proxyNetwork)),
    volumes: [...volumes.values()].filter((v) => usedVolumes.has(v.key)),
    secrets: [...secrets.values()],
    configs,
    warnings,
  };
}

interface Ctx {
  opts: LoadOptions;
  dir: string;
  env: Record<string, string>;
  hints: Record<string, EnvHints>;
  problems: Problem[];
  warnings: string[];
  compose: ComposeFile;
}

/** Compose network key → its spec, or "proxy" for the shared Traefik network. */
function buildNetworks(ctx: Ctx): Map<string, NetworkSpec | "proxy"> {
  const out = new Map<string, NetworkSpec | "proxy">();
  const declared = ctx.compose.networks ?? {};
  const usesDefault = Object.values(ctx.compose.services).some((s) => s.networks === undefined);
  if (usesDefault && !("default" in declared)) declared.default = {};
  for (const [key, net] of Object.entries(declared)) {
    const where = `networks.${key}`;
    if (net.external) {
      const extName = typeof net.external === "object" ? net.external.name : (net.name ?? key);
      if (extName === "proxy" || key === "proxy" || extName === ctx.opts.proxyNetwork) out.set(key, "proxy");
      else
        ctx.problems.push({
          path: where,
          message: `external network "${extName}" is not offered by the CI (only "proxy" is)`,
        });
      continue;
    }
    if (net.driver && net.driver !== "overlay") {
      ctx.problems.push({
        path: `${where}.driver`,
        message: `driver "${net.driver}" cannot span a swarm; use overlay`,
      });
    }
    const driverOpts = Object.fromEntries(
      Object.entries(net.driver_opts ?? {}).map(([k, v]) => [k, String(v)]),
    );
    out.set(key, {
      key,
      name: prefixedName(ctx.opts.stackName, key, NETWORK_NAME_MAX),
      internal: net.internal ?? false,
      driverOpts,
    });
  }
  return out;
}

function buildVolumes(ctx: Ctx): Map<string, VolumeSpec> {
  const out = new Map<string, VolumeSpec>();
  for (const [key, vol] of Object.entries(ctx.compose.volumes ?? {})) {
    const where = `volumes.${key}`;
    if (vol.external)
      ctx.warnings.push(
        `${where}: external volume replaced by a fresh volume of the run (a CI run has no existing data)`,
      );
    const driverOpts = Object.fromEntries(
      Object.entries(vol.driver_opts ?? {}).map(([k, v]) => [k, String(v)]),
    );
    const bindLike = driverOpts.o?.split(",").includes("bind") || driverOpts.device !== undefined;
    if (bindLike && !ctx.opts.policy.bindMountsOutsideRecipe) {
      ctx.problems.push({
        path: `${where}.driver_opts`,
        message:
          "a volume bound to a host device or path is refused on a shared CI host (policy.bindMountsOutsideRecipe)",
      });
    }
    out.set(key, {
      key,
      name: prefixedName(ctx.opts.stackName, key, VOLUME_NAME_MAX),
      driver: vol.driver,
      driverOpts,
    });
  }
  return out;
}

/** `db_password` → `SECRET_DB_PASSWORD_VERSION`, where abra keeps a secret's version and hints. */
export function secretVersionVar(key: string): string {
  return `SECRET_${key.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_VERSION`;
}

function buildSecrets(ctx: Ctx): Map<string, SecretSpec> {
  const out = new Map<string, SecretSpec>();
  const stack = ctx.opts.stackName;
  for (const [key, sec] of Object.entries(ctx.compose.secrets ?? {})) {
    const where = `secrets.${key}`;
    const hint = ctx.hints[secretVersionVar(key)] ?? {};
    const recipeName = sec.name ?? `${stack}_${key}`;
    // Names must be unique on the swarm; one without the run's prefix could collide with another run's.
    const name = fitName(
      recipeName.startsWith(stack) ? recipeName : `${stack}_${recipeName}`,
      OBJECT_NAME_MAX,
    );
    const fromVar = ctx.opts.secretFromVar?.[key];
    if (fromVar) {
      out.set(key, { key, name, source: { kind: "run", variable: fromVar } });
    } else if (sec.file !== undefined) {
      const abs = insideRoot(ctx.dir, sec.file);
      if (!abs || !existsSync(abs)) {
        ctx.problems.push({
          path: `${where}.file`,
          message: `${sec.file} ${abs ? "does not exist" : "is outside the recipe folder"}`,
        });
        continue;
      }
      out.set(key, { key, name, source: { kind: "file", content: readFileSync(abs, "utf8") } });
    } else {
      if (!sec.external) ctx.warnings.push(`${where}: neither external nor file; a value is generated`);
      if (hint.generate === false) {
        ctx.warnings.push(
          `${where}: marked generate=false (the operator inserts it); a random value stands in for the run`,
        );
      }
      const length = hint.length ?? DEFAULT_SECRET_LENGTH;
      out.set(key, {
        key,
        name,
        source: { kind: "generate", length, charset: hint.charset, hinted: hint.length !== undefined },
      });
    }
  }
  return out;
}

interface ConfigFile {
  key: string;
  name: string;
  content: string;
  template: boolean;
}

function readConfigFiles(ctx: Ctx): Map<string, ConfigFile> {
  const out = new Map<string, ConfigFile>();
  const stack = ctx.opts.stackName;
  for (const [key, cfg] of Object.entries(ctx.compose.configs ?? {})) {
    const where = `configs.${key}`;
    let content: string;
    if (cfg.file !== undefined) {
      const abs = insideRoot(ctx.dir, cfg.file);
      if (!abs || !existsSync(abs)) {
        ctx.problems.push({
          path: `${where}.file`,
          message: `${cfg.file} ${abs ? "does not exist" : "is outside the recipe folder"}`,
        });
        continue;
      }
      content = readFileSync(abs, "utf8");
    } else if (cfg.content !== undefined) {
      content = cfg.content;
    } else if (cfg.environment !== undefined) {
      content = ctx.env[cfg.environment] ?? "";
    } else {
      ctx.problems.push({
        path: where,
        message: "has no file, content or environment (external configs do not exist in CI)",
      });
      continue;
    }
    if (cfg.template_driver !== undefined && cfg.template_driver !== "golang") {
      ctx.problems.push({
        path: `${where}.template_driver`,
        message: `"${cfg.template_driver}" is not supported (golang is)`,
      });
    }
    const recipeName = cfg.name ?? `${stack}_${key}`;
    out.set(key, {
      key,
      name: recipeName.startsWith(stack) ? recipeName : `${stack}_${recipeName}`,
      content,
      template: cfg.template_driver === "golang",
    });
  }
  return out;
}

function buildService(
  ctx: Ctx,
  key: string,
  svc: Service,
  networks: Map<string, NetworkSpec | "proxy">,
  volumes: Map<string, VolumeSpec>,
  secrets: Map<string, SecretSpec>,
  configFiles: Map<string, ConfigFile>,
  configs: ConfigSpec[],
): ServiceSpec {
  const where = `services.${key}`;
  const { opts, problems, warnings } = ctx;
  const policy = opts.policy;
  const refuse = (k: string, why: string, allowedBy: string) =>
    problems.push({
      path: `${where}.${k}`,
      message: `${why} is refused on a shared CI host (allow with policy.${allowedBy})`,
    });

  for (const k of Object.keys(svc)) {
    if (KNOWN_SERVICE_KEYS.has(k)) continue;
    if (IGNORED_SERVICE_KEYS.has(k)) {
      warnings.push(
        `${where}.${k}: ${k === "ports" ? "published ports are not exposed in CI (reach services through Traefik)" : "ignored by docker stack deploy"}; dropped`,
      );
    } else {
      warnings.push(`${where}.${k}: not supported by this loader; dropped`);
    }
  }
  if (svc.image.trim() === "") problems.push({ path: `${where}.image`, message: "is empty" });
  // Security-relevant keys: refuse unless the operator allows.
  if (svc.privileged && !policy.privileged) refuse("privileged", "a privileged service", "privileged");
  for (const k of ["network_mode", "pid", "ipc", "userns_mode"] as const) {
    const v = svc[k];
    if (v === undefined) continue;
    if (v === "host") {
      if (!policy.hostNamespaces) refuse(k, `${k}: host`, "hostNamespaces");
    } else {
      problems.push({ path: `${where}.${k}`, message: `"${v}" is not supported by swarm services` });
    }
  }
  if (svc.devices?.length && !policy.capabilities)
    refuse("devices", "access to host devices", "capabilities");
  if (svc.cap_add?.length && !policy.capabilities)
    refuse("cap_add", `added capabilities (${svc.cap_add.join(", ")})`, "capabilities");
  if (svc.security_opt?.length && !policy.capabilities)
    refuse("security_opt", "changed security options", "capabilities");
  if (svc.depends_on)
    warnings.push(
      `${where}.depends_on: swarm starts services in any order; the recipe must wait (healthchecks)`,
    );

  // Environment: the service's own, bare names passing through from the recipe's .env.
  const env: Record<string, string> = {};
  for (const f of svc.env_file === undefined
    ? []
    : Array.isArray(svc.env_file)
      ? svc.env_file
      : [svc.env_file]) {
    const rel = typeof f === "string" ? f : f.path;
    const abs = insideRoot(ctx.dir, rel);
    if (!abs || !existsSync(abs)) {
      problems.push({
        path: `${where}.env_file`,
        message: `${rel} ${abs ? "does not exist" : "is outside the recipe folder"}`,
      });
      continue;
    }
    Object.assign(env, parseEnvFile(readFileSync(abs, "utf8"), {}).values);
  }
  for (const [k, v] of Object.entries(listToMap(svc.environment as JsonObject) ?? {})) {
    if (v !== null) env[k] = v;
    else if (ctx.env[k] !== undefined) env[k] = ctx.env[k];
    else warnings.push(`${where}.environment.${k}: not set in the recipe's .env; left out`);
  }

  // Networks.
  const netRefs = svc.networks === undefined ? { default: null } : networksToMap(svc.networks as JsonObject);
  const svcNetworks: ServiceSpec["networks"] = [];
  for (const [netKey, conf] of Object.entries(netRefs)) {
    const net = networks.get(netKey);
    if (!net) {
      problems.push({
        path: `${where}.networks.${netKey}`,
        message: "refers to a network the recipe does not declare",
      });
      continue;
    }
    const extra = isObject(conf) && Array.isArray(conf.aliases) ? conf.aliases.map(String) : [];
    // On the shared proxy network only the unique service name resolves; a plain alias such as "app"
    // would be shared with every other run's "app".
    const aliases = net === "proxy" ? [] : [key, ...extra];
    svcNetworks.push({ network: net === "proxy" ? opts.proxyNetwork : net.name, aliases });
  }

  // Mounts.
  const mounts: MountSpec[] = [];
  const addBind = (source: string, target: string, readOnly: boolean, k: string) => {
    if (/(^|\/)docker\.sock$/.test(source)) {
      if (!policy.dockerSocket) {
        refuse(k, "mounting the Docker socket", "dockerSocket");
        return;
      }
      mounts.push({ type: "bind", source, target, readOnly });
      return;
    }
    const inside = insideRoot(ctx.dir, source);
    if (inside) {
      if (!existsSync(inside))
        problems.push({
          path: `${where}.${k}`,
          message: `bind source ${source} does not exist in the recipe`,
        });
      else warnings.push(`${where}.${k}: bind mount of ${source} works on a single-node swarm only`);
      mounts.push({ type: "bind", source: inside, target, readOnly });
    } else if (!policy.bindMountsOutsideRecipe) {
      refuse(k, `bind mount of ${source} (outside the recipe)`, "bindMountsOutsideRecipe");
    } else {
      mounts.push({ type: "bind", source: path.resolve(ctx.dir, source), target, readOnly });
    }
  };
  (svc.volumes ?? []).forEach((v, i) => {
    const k = `volumes[${i}]`;
    if (typeof v === "string") {
      const parts = v.split(":");
      if (parts.length === 1) {
        mounts.push({
          type: "volume",
          source: anonymousVolume(ctx, volumes, key, parts[0]),
          target: parts[0],
          readOnly: false,
        });
        return;
      }
      const [source, target, flags = ""] = parts;
      const readOnly = flags.split(",").includes("ro");
      if (source.startsWith("/") || source.startsWith(".") || source.startsWith("~"))
        addBind(source, target, readOnly, k);
      else if (!volumes.has(source))
        problems.push({
          path: `${where}.${k}`,
          message: `volume "${source}" is not declared in the top-level volumes`,
        });
      else mounts.push({ type: "volume", source, target, readOnly });
      return;
    }
    const readOnly = v.read_only ?? false;
    if (v.type === "bind") addBind(v.source ?? "", v.target, readOnly, k);
    else if (v.type === "tmpfs")
      mounts.push({
        type: "tmpfs",
        target: v.target,
        readOnly,
        tmpfsSizeBytes: v.tmpfs?.size !== undefined ? bytes(v.tmpfs.size) : undefined,
      });
    else if (v.type === "volume") {
      if (!v.source)
        mounts.push({
          type: "volume",
          source: anonymousVolume(ctx, volumes, key, v.target),
          target: v.target,
          readOnly,
        });
      else if (!volumes.has(v.source))
        problems.push({
          path: `${where}.${k}.source`,
          message: `volume "${v.source}" is not declared in the top-level volumes`,
        });
      else mounts.push({ type: "volume", source: v.source, target: v.target, readOnly });
    } else problems.push({ path: `${where}.${k}.type`, message: `mount type "${v.type}" is not supported` });
  });
  for (const t of svc.tmpfs === undefined ? [] : Array.isArray(svc.tmpfs) ? svc.tmpfs : [svc.tmpfs]) {
    mounts.push({ type: "tmpfs", target: t.split(":")[0], readOnly: false });
  }

  // Secrets and configs.
  const svcSecrets: FileRefSpec[] = [];
  (svc.secrets ?? []).forEach((s, i) => {
    const ref = fileRef(s);
    if (!secrets.has(ref.key)) {
      problems.push({
        path: `${where}.secrets[${i}]`,
        message: `secret "${ref.key}" is not declared in the top-level secrets`,
      });
      return;
    }
    svcSecrets.push(ref);
  });
  const mountedSecrets = new Map(svcSecrets.map((s) => [path.basename(s.target), s.key]));
  const svcConfigs: FileRefSpec[] = [];
  (svc.configs ?? []).forEach((c, i) => {
    const ref = fileRef(c);
    const file = configFiles.get(ref.key);
    if (!file) {
      if (!ctx.compose.configs?.[ref.key])
        problems.push({
          path: `${where}.configs[${i}]`,
          message: `config "${ref.key}" is not declared in the top-level configs`,
        });
      return;
    }
    if (!c || typeof c === "string" || c.target === undefined) ref.target = `/${ref.key}`;
    let parts: TemplatePart[] = [file.content];
    let specKey = file.key;
    let name = file.name;
    if (file.template) {
      const r = renderTemplate(file.content, env, new Set(mountedSecrets.keys()));
      for (const e of r.errors)
        problems.push({ path: `configs.${file.key}`, message: `${e} (rendered for service ${key})` });
      // Docker renders per task with the service's environment, so one template may render to
      // different content for different services.
      parts = r.parts.map((p) =>
        typeof p === "string" ? p : { secret: mountedSecrets.get(p.secret) as string },
      );
      specKey = `${file.key}.${key}`;
      name = `${file.name}_${key}`;
    }
    const hashInput = JSON.stringify(parts);
    const finalName = fitName(`${name}_${contentHash(hashInput)}`, OBJECT_NAME_MAX);
    if (!configs.some((x) => x.key === specKey)) {
      configs.push({
        key: specKey,
        name: finalName,
        parts,
        sensitive: parts.some((p) => typeof p !== "string"),
      });
    }
    svcConfigs.push({ ...ref, key: specKey });
  });

  // Labels: ours on everything; Traefik's rewritten for the run.
  const deployLabels = listToMap(svc.deploy?.labels as JsonObject) ?? {};
  const containerLabels = listToMap(svc.labels as JsonObject) ?? {};
  for (const k of Object.keys(containerLabels)) {
    if (k.startsWith("traefik."))
      warnings.push(
        `${where}.labels.${k}: Traefik reads swarm services' deploy.labels, not container labels`,
      );
  }
  const { labels: traefikLabels, routers } = rewriteTraefikLabels(ctx, key, deployLabels);
  const labels = { ...traefikLabels, ...opts.labels };

  // Healthcheck.
  let healthcheck: ServiceSpec["healthcheck"];
  if (svc.healthcheck) {
    const h = svc.healthcheck;
    const test = h.disable ? ["NONE"] : typeof h.test === "string" ? ["CMD-SHELL", h.test] : h.test;
    if (test && !["CMD", "CMD-SHELL", "NONE"].includes(test[0])) {
      problems.push({
        path: `${where}.healthcheck.test`,
        message: `must start with CMD, CMD-SHELL or NONE, got ${JSON.stringify(test[0])}`,
      });
    }
    if (test)
      healthcheck = {
        test,
        interval: h.interval,
        timeout: h.timeout,
        startPeriod: h.start_period,
        retries: h.retries,
      };
  }

  const d = svc.deploy ?? {};
  if (d.endpoint_mode === "vip")
    warnings.push(
      `${where}.deploy.endpoint_mode: vip replaced by dnsrr (virtual IPs do not route on every swarm; DNS round robin does)`,
    );
  const image = substituteImage(svc.image, opts.images ?? {});
  return {
    key,
    name: prefixedName(opts.stackName, key, SERVICE_NAME_MAX),
    image,
    command: svc.command === undefined ? undefined : shellWords(svc.command),
    entrypoint: svc.entrypoint === undefined ? undefined : shellWords(svc.entrypoint),
    env,
    labels,
    containerLabels: { ...nonNull(containerLabels), ...opts.labels },
    networks: svcNetworks,
    mounts,
    secrets: svcSecrets,
    configs: svcConfigs,
    healthcheck,
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
    resources: d.resources && {
      limits: d.resources.limits && {
        memoryBytes: optBytes(d.resources.limits.memory),
        nanoCpus: optCpus(d.resources.limits.cpus),
      },
      reservations: d.resources.reservations && {
        memoryBytes: optBytes(d.resources.reservations.memory),
        nanoCpus: optCpus(d.resources.reservations.cpus),
      },
    },
    placement: {
      constraints: d.placement?.constraints ?? [],
      prefs: (d.placement?.preferences ?? []).map((p) => `spread=${p.spread}`),
      maxReplicas: d.placement?.max_replicas_per_node,
    },
    stopGracePeriod: svc.stop_grace_period,
    stopSignal: svc.stop_signal,
    user: svc.user,
    workingDir: svc.working_dir,
    hostname: svc.hostname,
    hosts: Object.entries(listToMap(svc.extra_hosts as JsonObject) ?? {}).map(([h, ip]) => hostEntry(h, ip)),
    dns: svc.dns === undefined ? [] : Array.isArray(svc.dns) ? svc.dns : [svc.dns],
    init: svc.init,
    readOnly: svc.read_only,
    capDrop: svc.cap_drop ?? [],
    capAdd: policy.capabilities ? (svc.cap_add ?? []) : [],
    sysctls: Object.fromEntries(
      Object.entries(listToMap(svc.sysctls as JsonObject) ?? {}).map(([k, v]) => [k, v ?? ""]),
    ),
    logging: svc.logging?.driver
      ? { driver: svc.logging.driver, options: svc.logging.options ?? {} }
      : undefined,
    routers,
  };
}

function nonNull(map: Record<string, string | null>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, v ?? ""]));
}

/** extra_hosts entries: `host:ip` (list form) or `host: ip` (map form). */
function hostEntry(h: string, ip: string | null): { host: string; ip: string } {
  if (ip !== null) return { host: h, ip };
  const i = h.indexOf(":");
  return { host: h.slice(0, i), ip: h.slice(i + 1) };
}

function anonymousVolume(
  ctx: Ctx,
  volumes: Map<string, VolumeSpec>,
  service: string,
  target: string,
): string {
  // Swarm would create an unlabelled anonymous volume that outlives the service; a named, labelled
  // per-run volume is removed with the run and found by audits.
  const key = `${service}_anon_${contentHash(target)}`;
  if (!volumes.has(key))
    volumes.set(key, { key, name: prefixedName(ctx.opts.stackName, key, VOLUME_NAME_MAX), driverOpts: {} });
  return key;
}

function fileRef(
  ref: string | { source: string; target?: string; uid?: string; gid?: string; mode?: number | string },
): FileRefSpec {
  if (typeof ref === "string") return { key: ref, target: ref };
  return {
    key: ref.source,
    target: ref.target ?? ref.source,
    uid: ref.uid,
    gid: ref.gid,
    mode: ref.mode === undefined ? undefined : fileMode(ref.mode),
  };
}

/** File modes are octal in Compose; YAML 1.2 reads `0440` as the decimal 440, so read its digits as octal. */
export function fileMode(mode: number | string): number {
  const digits = String(mode);
  return /^0?[0-7]{3,4}$/.test(digits) ? parseInt(digits, 8) : Number(mode);
}

export function substituteImage(image: string, images: Record<string, string>): string {
  if (images[image]) return images[image];
  const repo = image.replace(/@.*$/, "").replace(/:[^/:]+$/, "");
  return images[repo] ?? image;
}

/** Splits a string command the way Compose does (shell-like words with quotes); lists pass through. */
export function shellWords(cmd: string | string[]): string[] {
  if (Array.isArray(cmd)) return cmd;
  const words: string[] = [];
  let cur = "";
  let quote: string | null = null;
  let has = false;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < cmd.length) cur += cmd[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) words.push(cur);
      cur = "";
      has = false;
    } else if (c === "\\" && i + 1 < cmd.length) {
      cur += cmd[++i];
    } else cur += c;
  }
  if (has || cur) words.push(cur);
  return words;
}

/** Docker's sizes: 512m, 1.5g, 1024k, 100b or bytes. */
export function bytes(size: string | number): number {
  if (typeof size === "number") return size;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(size.trim());
  if (!m) throw new Error(`invalid size "${size}"`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[
    m[2].toLowerCase() as "" | "k" | "m" | "g" | "t"
  ];
  return Math.round(Number(m[1]) * mult);
}
function optBytes(size: string | undefined): number | undefined {
  return size === undefined ? undefined : bytes(size);
}
function optCpus(cpus: string | undefined): number | undefined {
  return cpus === undefined ? undefined : Math.round(Number(cpus) * 1e9);
}

const TRAEFIK_NAMED =
  /^traefik\.(http|tcp|udp)\.(routers|services|middlewares|serversTransports)\.([^.]+)\.(.+)$/;

/**
 * Makes a recipe's Traefik labels safe on the shared Traefik: router, service and middleware names
 * get the run's prefix (two runs of one recipe must not declare the same router), every Host() rule
 * must stay within the run's domain, entrypoints map to the CI's, certresolvers to the CI's (or are
 * dropped), and the proxy network is named for the swarm provider.
 */
function rewriteTraefikLabels(
  ctx: Ctx,
  service: string,
  labels: Record<string, string | null>,
): { labels: Record<string, string>; routers: RouterSpec[] } {
  const { opts, problems, warnings } = ctx;
  const where = `services.${service}.deploy.labels`;
  const stack = opts.stackName;
  const entrypoints = opts.entrypoints ?? { web: "web", webSecure: "web-secure" };
  const rename = (name: string) => (name.startsWith(stack) ? name : `${stack}-${name}`);
  const declared = {
    routers: new Set<string>(),
    services: new Set<string>(),
    middlewares: new Set<string>(),
  };
  for (const k of Object.keys(labels)) {
    const m = TRAEFIK_NAMED.exec(k);
    if (m && m[2] in declared) declared[m[2] as keyof typeof declared].add(m[3]);
  }
  const out: Record<string, string> = {};
  const routers = new Map<string, RouterSpec>();
  for (const [k, raw] of Object.entries(labels)) {
    let value = raw ?? "";
    if (!k.startsWith("traefik.")) {
      out[k] = value;
      continue;
    }
    if (k === "traefik.docker.network" || k === "traefik.swarm.network") continue; // set below
    if (k === "traefik.docker.lbswarm") {
      out["traefik.swarm.lbswarm"] = value;
      continue;
    }
    const m = TRAEFIK_NAMED.exec(k);
    if (!m) {
      out[k] = value;
      continue;
    }
    const [, proto, kind, name, rest] = m;
    const newKey = `traefik.${proto}.${kind}.${rename(name)}.${rest}`;
    if (kind === "routers") {
      if (rest === "rule") {
        const hosts = ruleHosts(value);
        for (const h of hosts) {
          if (h !== opts.domain && !h.endsWith(`.${opts.domain}`)) {
            problems.push({
              path: `${where}.${k}`,
              message: `routes host "${h}", outside the run's domain ${opts.domain}`,
            });
          }
        }
        if (/HostRegexp|HostSNIRegexp/.test(value))
          problems.push({
            path: `${where}.${k}`,
            message: "HostRegexp rules could capture other runs' hosts; use Host()",
          });
        if (proto === "http" && hosts.length === 0)
          problems.push({
            path: `${where}.${k}`,
            message: "a router without a Host() rule would capture other runs' traffic",
          });
        routers.set(rename(name), { name: rename(name), rule: value, hosts });
      } else if (rest === "entrypoints") {
        value = value
          .split(",")
          .map((e) => {
            const alias = ENTRYPOINT_ALIASES[e.trim()];
            if (!alias)
              warnings.push(`${where}.${k}: entrypoint "${e.trim()}" does not exist in the CI's Traefik`);
            return alias ? entrypoints[alias] : e.trim();
          })
          .join(",");
      } else if (rest === "tls.certresolver") {
        if (!opts.certResolver) {
          warnings.push(
            `${where}.${k}: no certificate resolver in this CI; the router uses Traefik's certificate`,
          );
          out[`traefik.${proto}.routers.${rename(name)}.tls`] = "true";
          continue;
        }
        value = opts.certResolver;
      } else if (rest === "service" && declared.services.has(value)) {
        value = rename(value);
      } else if (rest === "middlewares") {
        value = value
          .split(",")
          .map((x) => (declared.middlewares.has(x.trim()) ? rename(x.trim()) : x.trim()))
          .join(",");
      }
    }
    out[newKey] = value;
  }
  if (opts.plainHttp) addHttpTwins(out, routers, entrypoints, declared.middlewares, rename);
  if (Object.keys(out).some((k) => k.startsWith("traefik.")))
    out["traefik.swarm.network"] = opts.proxyNetwork;
  return { labels: out, routers: [...routers.values()] };
}

/**
 * For each HTTP router that is not on the web entrypoint, a twin on web with the same rule and
 * service, without TLS and without redirect-to-HTTPS middlewares.
 */
function addHttpTwins(
  labels: Record<string, string>,
  routers: Map<string, RouterSpec>,
  entrypoints: { web: string; webSecure: string },
  middlewares: Set<string>,
  rename: (n: string) => string,
): void {
  const redirecting = new Set(
    [...middlewares]
      .map(rename)
      .filter((m) =>
        Object.keys(labels).some((k) => k.startsWith(`traefik.http.middlewares.${m}.redirectscheme`)),
      ),
  );
  for (const r of [...routers.values()]) {
    const base = `traefik.http.routers.${r.name}`;
    const eps = (labels[`${base}.entrypoints`] ?? "").split(",").filter(Boolean);
    if (eps.length === 0 || eps.includes(entrypoints.web)) continue;
    const twin = `traefik.http.routers.${r.name}-http`;
    labels[`${twin}.rule`] = r.rule;
    labels[`${twin}.entrypoints`] = entrypoints.web;
    for (const k of ["service", "priority"])
      if (labels[`${base}.${k}`]) labels[`${twin}.${k}`] = labels[`${base}.${k}`];
    const kept = (labels[`${base}.middlewares`] ?? "").split(",").filter((m) => m && !redirecting.has(m));
    if (kept.length > 0) labels[`${twin}.middlewares`] = kept.join(",");
  }
}

/** The hosts of Host(`a`, `b`) / Host(`a`) || Host(`b`) / HostSNI(`a`) rules. */
export function ruleHosts(rule: string): string[] {
  const hosts: string[] = [];
  for (const m of rule.matchAll(/Host(?:SNI)?\(([^)]*)\)/g)) {
    for (const h of m[1].matchAll(/[`"']([^`"']*)[`"']/g)) if (h[1] !== "*") hosts.push(h[1].toLowerCase());
  }
  return hosts;
}
