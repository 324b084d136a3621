/**
 * The recipe loader: a Co-op Cloud recipe folder in, a RecipeModel out — or a ValidationError that
 * lists every problem with its file and line. It runs in stages, each in its own module:
 *
 *   1. ci        .cc-ci/image, .cc-ci/test, .cc-ci/deps.yml (.cc-ci/env with the env)   (ciFiles.ts)
 *      env       .env.sample and abra.sh, as abra reads them, with the run's values     (envfile.ts)
 *   2. compose   the files COMPOSE_FILE names, loaded by Docker's own loader           (compose.ts)
 *   3. rules     the shared host's policy and limits, as named rules                   (rules.ts)
 *   4. plan      the run's networks, volumes, secrets, configs and services            (plan.ts, service.ts)
 *                with the Traefik labels checked and rewritten for the run             (traefik.ts)
 *
 * Every file is read through one resolver (files.ts). Synchronous: a broken recipe fails before any
 * resource is declared. Problems of every stage that can run are reported together.
 */
import { VARIANTS_DIR, VARIANT_NAME, variantFile } from "./variants";
import type { RecipePolicy, RunLimits } from "../config";
import { RunLimits as RunLimitsSchema } from "../config";
import { ValidationError, type Problem } from "../errors";
import { at, loadCompose } from "./compose";
import { parseAbraSh, parseEnvFile, type EnvHints } from "./envfile";
import { readCiFiles } from "./ciFiles";
import { DEPS_FILE, type DepSpec } from "../deps/spec";
import { depVar } from "../deps/kinds";
import { RecipeFiles } from "./files";
import type { RecipeModel } from "./model";
import { planNetworks, planSecrets, planVolumes, readConfigs, type PlanContext } from "./plan";
import { checkRules } from "./rules";
import { planServices } from "./service";
import * as path from "node:path";
import { existsSync, statSync } from "node:fs";

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
  /** Traefik's core.defaultRuleSyntax. Default: v2 (as Co-op Cloud's Traefik). */
  ruleSyntax?: "v2" | "v3";
  /** The CI serves runs over plain HTTP: routers only on web-secure get a twin on web. Default: false. */
  plainHttp?: boolean;
  /** The run's own values (CI_*), visible to .env.sample and compose files; they win over both. */
  runVars?: Record<string, string>;
  /** Operator overrides of .env.sample values. */
  env?: Record<string, string>;
  /** Image substitutions (exact reference, or repository without tag). */
  images?: Record<string, string>;
  policy: RecipePolicy;
  /** Defaults and maxima of the run's resources. Default: RunLimits' defaults. */
  limits?: RunLimits;
  /** Labels every Docker object of the run carries. */
  labels: Record<string, string>;
  /** The variant under test (`.cc-ci/variants/<name>.env` over .env.sample); none: the recipe as it comes. */
  variant?: string;
  /** Recipe secret (compose key) whose content is this run variable instead of a generated value. */
  secretFromVar?: Record<string, string>;
}

/** The recipe's own env for CI runs, read after .env.sample and abra.sh (the operator's values still win). */
export const CI_ENV_FILE = ".cc-ci/env";

/** The env the recipe sees: .env.sample and abra.sh as abra reads them, the run's values winning. */
export function recipeEnv(
  files: RecipeFiles,
  opts: LoadOptions,
  deps: DepSpec[] = [],
): {
  env: Record<string, string>;
  /** What abra would expose to `app`: the app's env file (and abra.sh, the operator's values), not the run's CI_* extras. */
  appEnv: Record<string, string>;
  hints: Record<string, EnvHints>;
  problems: Problem[];
  warnings: string[];
} {
  const forced = {
    ...(opts.env ?? {}),
    ...(opts.runVars ?? {}),
    STACK_NAME: opts.stackName,
    DOMAIN: opts.domain,
  };
  const problems: Problem[] = [];
  const warnings: string[] = [];
  let env: Record<string, string> = { ...forced };
  let hints: Record<string, EnvHints> = {};
  // The names the recipe's own files set (a run value of the same name is then the app's too).
  const fileKeys = new Set<string>();
  if (files.present(".env.sample")) {
    const r = files.read(".env.sample", 256 * 1024);
    if (!r.ok) problems.push({ path: "", file: ".env.sample", message: r.message });
    else {
      const parsed = parseEnvFile(r.text, forced);
      for (const k of parsedKeys(r.text)) fileKeys.add(k);
      for (const p of parsed.problems)
        problems.push({ path: "", file: ".env.sample", line: p.line, message: p.message });
      env = parsed.values;
      hints = parsed.hints;
    }
  } else
    problems.push({
      path: "",
      file: ".env.sample",
      message:
        "is missing: abra cannot create an app of this recipe (`abra app new` copies .env.sample into the app's env file)",
    });
  // The variant under test: the operator's app env file, an overlay over .env.sample (abra.sh still over it).
  if (opts.variant !== undefined) {
    const file = variantFile(opts.variant);
    const r = VARIANT_NAME.test(opts.variant)
      ? files.read(file, 256 * 1024)
      : { ok: false as const, message: `${JSON.stringify(opts.variant.slice(0, 64))} is not a variant name` };
    if (!r.ok) problems.push({ path: "", file: VARIANTS_DIR, message: r.message });
    else {
      const parsed = parseEnvFile(r.text, forced, env);
      for (const k of parsedKeys(r.text)) fileKeys.add(k);
      for (const p of parsed.problems) problems.push({ path: "", file, line: p.line, message: p.message });
      env = parsed.values;
      hints = { ...hints, ...parsed.hints };
    }
  }
  if (files.present("abra.sh")) {
    const r = files.read("abra.sh", 256 * 1024);
    if (!r.ok) problems.push({ path: "", file: "abra.sh", message: r.message });
    else {
      const sh = parseAbraSh(r.text);
      // abra merges abra.sh's exports over the env file (the run's own values still win).
      for (const [k, v] of Object.entries(sh.values)) {
        fileKeys.add(k);
        if (!(k in forced)) env[k] = v;
      }
      for (const line of sh.ignored)
        warnings.push(`abra.sh:${line}: only plain \`export NAME=value\` lines are read (as abra does)`);
    }
  }
  // The recipe's own values for CI runs (abra never reads .cc-ci/): e.g. OIDC_ISSUER=$CI_OIDC_ISSUER.
  if (files.present(CI_ENV_FILE)) {
    const r = files.read(CI_ENV_FILE, 256 * 1024);
    if (!r.ok) problems.push({ path: "", file: CI_ENV_FILE, message: r.message });
    else {
      const operator = {
        ...(opts.env ?? {}),
        ...(opts.runVars ?? {}),
        STACK_NAME: opts.stackName,
        DOMAIN: opts.domain,
      };
      const parsed = parseEnvFile(r.text, operator, env);
      for (const k of parsedKeys(r.text)) fileKeys.add(k);
      for (const p of parsed.problems)
        problems.push({ path: "", file: CI_ENV_FILE, line: p.line, message: p.message });
      env = parsed.values;
    }
  }
  depEnv(deps, opts, env, fileKeys, problems);
  if (env.EXTRA_DOMAINS && !("EXTRA_DOMAINS" in (opts.runVars ?? {}))) {
    const sample = files.exists(".env.sample") ? sampleDomain(files) : undefined;
    const mapped = mapExtraDomains(env.EXTRA_DOMAINS, sample, opts.domain);
    env.EXTRA_DOMAINS = mapped.value;
    for (const [from, to] of mapped.hosts)
      if (from !== to) warnings.push(`EXTRA_DOMAINS: ${from} is served at ${to} in this run`);
    for (const h of mapped.invalid)
      problems.push({
        path: "EXTRA_DOMAINS",
        file: ".env.sample",
        message: `\`${h}\` is not a host name: nothing expands it (single quotes keep it literal), so the alias would route nothing, in CI as with abra`,
      });
  }
  const runOnly = new Set(Object.keys(opts.runVars ?? {}));
  for (const k of fileKeys) runOnly.delete(k);
  const appEnv = Object.fromEntries(Object.entries(env).filter(([k]) => !runOnly.has(k)));
  return { env, appEnv, hints, problems, warnings };
}

/** The DOMAIN the recipe's own .env.sample names (its aliases are usually under it). */
function sampleDomain(files: RecipeFiles): string | undefined {
  const r = files.read(".env.sample", 256 * 1024);
  return r.ok ? parseEnvFile(r.text).values.DOMAIN : undefined;
}

/**
 * Co-op Cloud recipes splice `EXTRA_DOMAINS` (e.g. ``, `www.example.com` ``) into their router rules
 * as domain aliases. A run cannot serve real domains, so each alias is mapped to a name under the
 * run's domain — `www.<sample domain>` → `www.<run domain>`, any other host → `<host with dashes>.<run
 * domain>` — and the aliases are routed and tested like the main domain.
 */
export function mapExtraDomains(
  value: string,
  sample: string | undefined,
  runDomain: string,
): { value: string; hosts: [string, string][]; invalid: string[] } {
  const hosts: [string, string][] = [];
  const invalid: string[] = [];
  const mapped = value.replace(/`([^`]*)`/g, (whole, host: string) => {
    const h = host.trim().toLowerCase();
    // Not a host name (e.g. a literal `${DOMAIN}` that nothing expanded): abra would route it as
    // written, which matches nothing. Left as it is, and reported.
    if (!/^[a-z0-9*]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(h)) {
      invalid.push(host);
      return whole;
    }
    let to: string;
    if (h === runDomain || h.endsWith(`.${runDomain}`))
      to = h; // already the run's (an expanded ${DOMAIN})
    else if (sample && (h === sample || h.endsWith(`.${sample}`)))
      to = `${h.slice(0, h.length - sample.length)}${runDomain}`;
    else to = `${h.replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "")}.${runDomain}`;
    hosts.push([host, to]);
    return `\`${to}\``;
  });
  return { value: mapped, hosts, invalid };
}

/**
 * The recipe as abra names it in the `coop-cloud.<stack>.recipe` label: the env file's RECIPE, else
 * its TYPE, without a `:<version>` pin; when it sets neither (abra refuses such an app), the folder's
 * name, with a warning.
 */
function abraRecipe(env: Record<string, string>, folder: string, warnings: string[]): string {
  const named = env.RECIPE || env.TYPE;
  if (named) return named.split(":")[0];
  warnings.push(
    `.env.sample sets neither RECIPE nor TYPE (abra needs one to deploy the app); the recipe is labelled ${folder}`,
  );
  return folder;
}

export function loadRecipe(opts: LoadOptions): RecipeModel {
  const dir = path.resolve(opts.dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new ValidationError(`recipe ${dir}`, [{ path: "", message: "is not a folder" }]);
  const recipe = opts.recipe ?? path.basename(dir);
  const subject = `recipe ${recipe} (${dir})`;
  const files = new RecipeFiles(dir);
  const limits = opts.limits ?? RunLimitsSchema.parse({});

  // 1. ci files, then env
  const ci = readCiFiles(files);
  const e = recipeEnv(files, opts, ci.ci.deps);
  const problems = [...ci.problems, ...e.problems];
  const warnings = [...e.warnings];
  const composeFile = e.env.COMPOSE_FILE ?? "compose.yml";

  // 2. compose, by Docker's loader
  const c = loadCompose(files, composeFile, e.env);
  problems.push(...c.problems);
  warnings.push(...c.warnings);
  if (!c.config) throw new ValidationError(subject, problems, warnings);
  const config = c.config;
  const place = (p: string, message: string) => at(c.positions, p, message);

  // 3. rules
  const found = checkRules({
    config,
    files,
    policy: opts.policy,
    limits,
    proxyNetwork: opts.proxyNetwork,
    at: place,
  });
  problems.push(...found.problems);
  warnings.push(...found.warnings);

  // 4. plan
  const ctx: PlanContext = {
    config,
    files,
    stackName: opts.stackName,
    proxyNetwork: opts.proxyNetwork,
    env: e.env,
    hints: e.hints,
    secretFromVar: { ...depSecrets(ci.ci.deps), ...opts.secretFromVar },
    problems,
    warnings,
    at: place,
  };
  const networks = planNetworks(ctx);
  const volumes = planVolumes(ctx);
  const secrets = planSecrets(ctx);
  const configFiles = readConfigs(ctx);
  const { services, configs } = planServices(
    ctx,
    { networks, volumes, secrets, configFiles },
    {
      limits,
      labels: opts.labels,
      images: opts.images ?? {},
      recipe: abraRecipe(e.env, recipe, warnings),
      appEnv: e.appEnv,
      traefik: {
        stackName: opts.stackName,
        domain: opts.domain,
        proxyNetwork: opts.proxyNetwork,
        entrypoints: opts.entrypoints,
        certResolver: opts.certResolver,
        plainHttp: opts.plainHttp,
        ruleSyntax: opts.ruleSyntax ?? "v2",
      },
    },
  );
  const seen = new Map<string, string>();
  for (const s of services)
    for (const r of s.routers) {
      const other = seen.get(r.name);
      if (other && other !== s.key)
        problems.push(
          place(`services.${s.key}.deploy.labels`, `router "${r.name}" is also declared by service ${other}`),
        );
      seen.set(r.name, s.key);
    }
  if (problems.length > 0) throw new ValidationError(subject, problems, warnings);

  const usedVolumes = new Set(
    services.flatMap((s) => s.mounts.filter((m) => m.type === "volume").map((m) => m.source)),
  );
  return {
    recipe,
    dir,
    stackName: opts.stackName,
    domain: opts.domain,
    composeFiles: c.files,
    env: e.env,
    services,
    networks: [...networks.values()].filter((n) => n !== "proxy"),
    proxyNetwork: opts.proxyNetwork,
    usesProxy: services.some((s) => s.networks.some((n) => n.network === opts.proxyNetwork)),
    volumes: [...volumes.values()].filter((v) => usedVolumes.has(v.key)),
    secrets: [...secrets.values()],
    configs,
    deployTimeout: deployTimeoutLabel(config.services.app?.deploy?.labels, opts.stackName),
    ci: ci.ci,
    warnings,
  };
}

/** abra waits `coop-cloud.<stack>.timeout` seconds (a label of `app`) for the deploy to converge. */
function deployTimeoutLabel(
  labels: Record<string, string> | undefined,
  stackName: string,
): number | undefined {
  const v = labels?.[`coop-cloud.${stackName}.timeout`];
  return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) : undefined;
}

/** The recipe's deps.yml maps its dependencies' values into its env, as .cc-ci/env lines would. */
function depEnv(
  deps: DepSpec[],
  opts: LoadOptions,
  env: Record<string, string>,
  fileKeys: Set<string>,
  problems: Problem[],
): void {
  for (const dep of deps)
    for (const [k, field] of Object.entries(dep.env)) {
      fileKeys.add(k);
      if (opts.env && k in opts.env) continue;
      const v = opts.runVars?.[depVar(dep, field)];
      if (v !== undefined) env[k] = v;
      else
        problems.push({
          path: `${dep.name}.env.${k}`,
          file: DEPS_FILE,
          message: `this run has no value for it: no ${dep.kind} dependency ${dep.name} was provided`,
        });
    }
}

/** The recipe secrets deps.yml fills with a dependency's value: compose key → run variable. */
function depSecrets(deps: DepSpec[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const dep of deps)
    for (const [key, field] of Object.entries(dep.secrets)) out[key] = depVar(dep, field);
  return out;
}

/** The names an env file sets. */
function parsedKeys(text: string): string[] {
  return Object.keys(parseEnvFile(text).values);
}
