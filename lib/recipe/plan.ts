/**
 * Stage 4 of the loader: the run's objects made from the loaded config — networks, volumes, secrets
 * and configs with the run's names (as `docker stack deploy` names them, `<STACK_NAME>_<key>`, within
 * Swarm's limits), secret values to generate with abra's hints, config files read through the
 * resolver. Services are planned in service.ts.
 */
import {
  contentHash,
  fitName,
  NETWORK_NAME_MAX,
  OBJECT_NAME_MAX,
  prefixedName,
  VOLUME_NAME_MAX,
} from "../naming";
import type { Problem } from "../errors";
import type { ComposeConfig } from "./composeConfig";
import { charsetAlphabet, type EnvHints } from "./envfile";
import type { RecipeFiles } from "./files";
import type { NetworkSpec, SecretSpec, VolumeSpec } from "./model";

export interface PlanContext {
  config: ComposeConfig;
  files: RecipeFiles;
  stackName: string;
  proxyNetwork: string;
  env: Record<string, string>;
  hints: Record<string, EnvHints>;
  /** Recipe secret (compose key) → run variable whose value it takes. */
  secretFromVar?: Record<string, string>;
  problems: Problem[];
  warnings: string[];
  at(path: string, message: string): Problem;
}

/** Default length of a generated password when abra's hints give a charset but no length. */
export const DEFAULT_SECRET_LENGTH = 32;
/** Words of abra's passphrase (its generator's default), made when the env file hints no length. */
export const PASSPHRASE_WORDS = 6;

/** The recipe's name for an object with the run's prefix, unless it already has it (Docker's rule). */
export function runName(stackName: string, name: string, max: number): string {
  return name.startsWith(`${stackName}_`) ? fitName(name, max) : prefixedName(stackName, name, max);
}

/** Compose network key → its spec, or "proxy" for the shared Traefik network. */
export function planNetworks(ctx: PlanContext): Map<string, NetworkSpec | "proxy"> {
  const out = new Map<string, NetworkSpec | "proxy">();
  const declared = { ...(ctx.config.networks ?? {}) };
  // Services that name no network join the stack's `default` network, as docker stack deploy does.
  const usesDefault = Object.values(ctx.config.services).some(
    (s) => !s.networks || Object.keys(s.networks).length === 0,
  );
  if (usesDefault && !("default" in declared)) declared.default = {};
  for (const [key, net] of Object.entries(declared)) {
    if (net.external) {
      out.set(key, "proxy"); // the rules refused every other external network
      continue;
    }
    out.set(key, {
      key,
      name: runName(ctx.stackName, net.name ?? key, NETWORK_NAME_MAX),
      internal: net.internal ?? false,
      driverOpts: { ...(net.driver_opts ?? {}) },
    });
  }
  return out;
}

export function planVolumes(ctx: PlanContext): Map<string, VolumeSpec> {
  const out = new Map<string, VolumeSpec>();
  for (const [key, vol] of Object.entries(ctx.config.volumes ?? {})) {
    if (vol.external)
      ctx.warnings.push(
        `volumes.${key}: external volume replaced by a fresh volume of the run (a CI run has no existing data)`,
      );
    out.set(key, {
      key,
      name: runName(ctx.stackName, vol.external ? key : (vol.name ?? key), VOLUME_NAME_MAX),
      driver: vol.driver,
      driverOpts: { ...(vol.driver_opts ?? {}) },
    });
  }
  return out;
}

/** Swarm would create an unlabelled anonymous volume that outlives the service; the run gets a named one. */
export function anonymousVolume(
  ctx: PlanContext,
  volumes: Map<string, VolumeSpec>,
  service: string,
  target: string,
): string {
  const key = `${service}_anon_${contentHash(target)}`;
  if (!volumes.has(key))
    volumes.set(key, { key, name: prefixedName(ctx.stackName, key, VOLUME_NAME_MAX), driverOpts: {} });
  return key;
}

/** `db_password` → `SECRET_DB_PASSWORD_VERSION`, where abra keeps a secret's version and hints. */
export function secretVersionVar(key: string): string {
  return `SECRET_${key.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_VERSION`;
}

export function planSecrets(ctx: PlanContext): Map<string, SecretSpec> {
  const out = new Map<string, SecretSpec>();
  for (const [key, sec] of Object.entries(ctx.config.secrets ?? {})) {
    const where = `secrets.${key}`;
    const hint = ctx.hints[secretVersionVar(key)] ?? {};
    const name = runName(ctx.stackName, sec.name ?? key, OBJECT_NAME_MAX);
    // abra refuses such a recipe ("missing version for secret?"): its name ends where the version was.
    if (sec.name?.endsWith("_"))
      ctx.problems.push(
        ctx.at(
          `${where}.name`,
          `${sec.name} ends with "_": the secret's version is not set (set ${secretVersionVar(key)} in .env.sample; abra refuses the app: "missing version for secret?")`,
        ),
      );
    const fromVar = ctx.secretFromVar?.[key];
    if (fromVar) {
      out.set(key, { key, name, source: { kind: "run", variable: fromVar } });
      continue;
    }
    if (sec.file !== undefined) {
      const r = ctx.files.read(sec.file);
      if (r.ok) out.set(key, { key, name, source: { kind: "file", content: r.text } });
      else ctx.problems.push(ctx.at(`${where}.file`, r.message));
      continue;
    }
    if (!sec.external) ctx.warnings.push(`${where}: neither external nor file; a value is generated`);
    if (hint.generate === false)
      ctx.warnings.push(
        `${where}: marked generate=false (the operator inserts it); a random value stands in for the run`,
      );
    const { alphabet, unknown } = charsetAlphabet(hint.charset);
    if (unknown.length > 0)
      ctx.warnings.push(
        `${where}: charset=${hint.charset} is not one of abra's (default, special, safespecial); like abra, the default alphabet is used`,
      );
    const passphrase = hint.length === undefined && hint.charset === undefined;
    out.set(key, {
      key,
      name,
      source: {
        kind: "generate",
        length: passphrase ? PASSPHRASE_WORDS : (hint.length ?? DEFAULT_SECRET_LENGTH),
        alphabet,
        passphrase,
        hinted: hint.length !== undefined,
      },
    });
  }
  return out;
}

export interface ConfigFile {
  key: string;
  name: string;
  content: string;
  template: boolean;
}

/** The recipe's configs: their content (a file through the resolver, inline content or an env value). */
export function readConfigs(ctx: PlanContext): Map<string, ConfigFile> {
  const out = new Map<string, ConfigFile>();
  for (const [key, cfg] of Object.entries(ctx.config.configs ?? {})) {
    const where = `configs.${key}`;
    let content: string;
    if (cfg.file !== undefined) {
      const r = ctx.files.read(cfg.file);
      if (!r.ok) {
        ctx.problems.push(ctx.at(`${where}.file`, r.message));
        continue;
      }
      content = r.text;
    } else if (cfg.content !== undefined) content = cfg.content;
    else if (cfg.environment !== undefined) content = ctx.env[cfg.environment] ?? "";
    else {
      ctx.problems.push(
        ctx.at(where, "has no file, content or environment (external configs do not exist in CI)"),
      );
      continue;
    }
    if (cfg.template_driver !== undefined && cfg.template_driver !== "golang")
      ctx.problems.push(
        ctx.at(`${where}.template_driver`, `"${cfg.template_driver}" is not supported (golang is)`),
      );
    out.set(key, {
      key,
      name: runName(ctx.stackName, cfg.name ?? key, OBJECT_NAME_MAX),
      content,
      template: cfg.template_driver === "golang",
    });
  }
  return out;
}
