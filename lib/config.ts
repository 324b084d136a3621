/**
 * The stack configuration (namespace `cc-ci`), parsed once at the program's entry, and the one codec
 * between it and Pulumi's flat config map. Each setting keeps its type, its description and its
 * default together in the schema (Pulumi.warm.yaml documents the same; a unit test compares them);
 * unknown keys are errors, so a typo in Pulumi.warm.yaml never silently falls back to a default.
 */
import { VARIANT_NAME } from "./recipe/variants";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { parseOrThrow, ValidationError } from "./errors";
import { CONFIG_NAMESPACE, RUN_ID_PATTERN } from "./naming";
import { decodeBySchema, Untyped, yamlTree } from "./configCodec";
import { RecipePolicy, RunLimits, SandboxSettings } from "./runSettings";

export { byteSize } from "./configTypes";
export { RecipePolicy, RunLimits, SandboxSettings } from "./runSettings";
import { KeycloakContract, PostgresContract, ProxyContract, S3Contract } from "./contract";
import { DEPS_REQUESTS } from "./deps/plan";
import {
  KeycloakConfig,
  PostgresConfig,
  RegistryConfig,
  S3Config,
  SmtpConfig,
  TraefikConfig,
} from "./warmParts";
import { hostname } from "./configTypes";

export * from "./warmParts";

const Common = {
  dockerHost: z
    .string()
    .min(1)
    .default("unix:///var/run/docker.sock")
    .describe("Docker API the providers talk to. Default: unix:///var/run/docker.sock."),
};

export const WarmConfig = z.strictObject({
  role: z
    .literal("warm")
    .describe("Which program this stack runs: warm or run. Default: from the stack's name."),
  domain: hostname
    .default("ci.test")
    .describe(
      "CI domain: a run's app lives at <run id>.<domain>, Keycloak at <keycloak.hostname>.<domain>. Default: ci.test.",
    ),
  proxyNetwork: z
    .string()
    .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,55}$/)
    .default("proxy")
    .describe(
      "Name prefix of Traefik's slot networks (<proxyNetwork>_<n>): each concurrent run leases one. Default: proxy.",
    ),
  slots: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(8)
    .describe(
      "Slot networks Traefik is attached to from the start: the most runs at once on the warm layer (Traefik never restarts for a run). Default: 8.",
    ),
  healthcheckSeconds: z
    .number()
    .int()
    .min(1)
    .max(300)
    .default(30)
    .describe(
      "Seconds between the healthchecks of the warm services (Traefik, Keycloak and its database, PostgreSQL, S3). Default: 30.",
    ),
  ...Common,
  traefik: TraefikConfig.prefault({}),
  keycloak: KeycloakConfig.prefault({}),
  registry: RegistryConfig.prefault({}),
  postgres: PostgresConfig.prefault({}),
  s3: S3Config.prefault({}),
  smtp: SmtpConfig.prefault({}).describe("What runs' mail catchers run (never warm: each run has its own)."),
});
export type WarmConfig = z.output<typeof WarmConfig>;

/** SSO modes a run may ask for; `auto` is resolved by planRun (warm when the warm Keycloak answers). */
export const SSO_REQUESTS = ["auto", "warm", "cold", "off"] as const;
export type SsoRequest = (typeof SSO_REQUESTS)[number];

/** The part of the warm contract a run stack keeps: the proxy, and Keycloak when the run uses it. */
export const RunWarmProxy = ProxyContract.describe(
  "The warm layer's proxy (from its outputs), set by cc-ci run.",
);
export const RunWarmKeycloak = KeycloakContract.describe(
  "The warm Keycloak (from the warm outputs; secret), set by cc-ci run.",
);

/** Settings a run takes from the operator's run defaults file as well as from the stack config. */
const RunSettings = {
  oidcClientSecret: z
    .string()
    .min(1)
    .optional()
    .describe(
      "A recipe secret (its compose key) whose content is the OIDC client secret instead of a generated one.",
    ),
  env: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string())
    .default({})
    .describe(
      "Values for the recipe's .env (override .env.sample; may refer to the run's CI_* values). Default: none.",
    ),
  images: z
    .record(z.string().min(1), z.string().min(1))
    .default({})
    .describe(
      'Image substitutions, e.g. {"nginx:1.25": "cc-ci/nginx:bookworm"} for offline hosts. Default: none.',
    ),
  catalogue: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .describe(
      "The operator's catalogue of recipes, a folder of recipe folders (<catalogue>/<name>/compose.yml): what `recipe` dependencies (.cc-ci/deps.yml) name. In a run defaults file, relative to that file. Default: none (a recipe dependency is then a problem).",
    ),
  testUser: z
    .string()
    .regex(/^[a-z0-9._-]{1,64}$/)
    .default("ci-user")
    .describe("The test user's name in the run's realm. Default: ci-user."),
  policy: RecipePolicy.prefault({}).describe(
    "What recipes may do on this shared host. Default: nothing dangerous.",
  ),
  limits: RunLimits.prefault({}).describe("Defaults and maxima of a run's resources."),
  deployTimeout: z
    .number()
    .int()
    .positive()
    .default(600)
    .describe("Seconds the recipe's services get to be running and healthy before `up` fails. Default: 600."),
  placement: z
    .array(
      z.string().regex(/^[A-Za-z0-9_.-]+\s*(==|!=)\s*\S+$/, "a swarm constraint such as node.role == worker"),
    )
    .default([])
    .describe(
      'Placement constraints on every service of every run (recipes may set none), e.g. ["node.role == worker"] to keep runs off the managers of a multi-node swarm. Default: none.',
    ),
};

/** Only in a run stack's config (set by cc-ci run), not in run defaults files. */
const RunOnly = {
  waitForServices: z
    .boolean()
    .default(true)
    .describe(
      "Whether `up` waits until the recipe's services are running and healthy (within deployTimeout). cc-ci run sets false and waits itself, polling the swarm in its converge phase. Default: true.",
    ),
};

export const RunConfig = z.strictObject({
  role: z.literal("run"),
  runId: z
    .string()
    .regex(RUN_ID_PATTERN, { message: "must look like <first 4 of recipe>-<6 hex>" })
    .describe("The run's id, <first 4 of recipe>-<6 hex>. Set by cc-ci run."),
  recipeDir: z
    .string()
    .regex(/^\//, { message: "must be an absolute path" })
    .describe("Absolute path of the recipe folder."),
  owner: z
    .string()
    .regex(/^[0-9a-f]{12}$/)
    .optional()
    .describe(
      "The state backend the run belongs to (12 hex digits of its URL's SHA-256), labelled on every object so other backends' audits leave the run alone. Set by cc-ci run.",
    ),
  recipe: z.string().min(1).optional().describe("Recipe name. Default: the folder's name."),
  pr: z.number().int().positive().optional().describe("Pull request number, recorded as a label."),
  quick: z
    .boolean()
    .optional()
    .describe("The fast path (cc-ci run --quick): warm dependencies only; the tests see CI_QUICK=1."),
  variant: z
    .string()
    .regex(VARIANT_NAME, { message: "must name a variant: lower-case letters, digits, _ and -, 32 at most" })
    .optional()
    .describe(
      "The recipe's variant under test (.cc-ci/variants/<name>.env over .env.sample). Default: none.",
    ),
  ref: z
    .union([z.string(), z.number()])
    .transform(String)
    .pipe(z.string().regex(/^[0-9a-zA-Z._/-]{1,100}$/))
    .optional()
    .describe("Commit under test, recorded as a label."),
  sso: z
    .enum(SSO_REQUESTS)
    .default("auto")
    .describe("auto (warm when warmKeycloak is given, else cold), warm, cold, or off. Default: auto."),
  warmProxy: RunWarmProxy.optional(),
  proxyNetwork: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The warm proxy's slot network leased for this run (set by cc-ci run); one of warmProxy.networks.",
    ),
  warmKeycloak: RunWarmKeycloak.optional(),
  deps: z
    .enum(DEPS_REQUESTS)
    .default("auto")
    .describe(
      "Where the recipe's dependencies (.cc-ci/deps.yml) come from: auto (warm where the warm layer serves the kind, else cold), warm, or cold. Default: auto.",
    ),
  warmPostgres: PostgresContract.optional().describe(
    "The warm PostgreSQL (from the warm outputs; secret), set by cc-ci run when a dependency uses it.",
  ),
  postgres: PostgresConfig.prefault({}).describe(
    "Only for a cold PostgreSQL dependency (inside the run stack).",
  ),
  warmS3: S3Contract.optional().describe(
    "The warm S3 server (from the warm outputs; secret), set by cc-ci run when a dependency uses it.",
  ),
  s3: S3Config.prefault({}).describe("Only for a cold S3 dependency (inside the run stack)."),
  smtp: SmtpConfig.prefault({}).describe("Only for an smtp dependency (always inside the run stack)."),
  domain: hostname
    .default("ci.test")
    .describe("Only without warmProxy: the CI domain of the run's own Traefik. Default: ci.test."),
  ...Common,
  traefik: TraefikConfig.prefault({}).describe("Only without warmProxy: the run's own Traefik."),
  keycloak: KeycloakConfig.prefault({}).describe("Only for a cold Keycloak (inside the run stack)."),
  ...RunSettings,
  ...RunOnly,
});
export type RunConfig = z.output<typeof RunConfig>;

export const StackConfig = z.discriminatedUnion("role", [WarmConfig, RunConfig]);
export type StackConfig = z.output<typeof StackConfig>;

/** Top-level run config keys that carry secrets (the warm layer's admin identities). */
export const SECRET_CONFIG_KEYS: ReadonlySet<string> = new Set(["warmKeycloak", "warmPostgres", "warmS3"]);

/**
 * Where a run's secret settings reach its program: the environment of the Pulumi CLI that deploys
 * it (`up`, an upgrade's `preview`), a JSON object of `cc-ci:<key>` → text; never its settings file.
 * The program hands them on as Pulumi secrets, so they are kept encrypted in the state like the
 * resources' other secret inputs; `pulumi destroy` needs none of them (the providers' inputs are in
 * the state). Written to the settings file, they needed `pulumi config set-all`: a CLI start and a
 * derivation of the passphrase's key (PBKDF2, 10^6 rounds) in every run.
 */
export const SECRET_CONFIG_ENV = "CC_CI_SECRET_CONFIG";

/**
 * The secret settings in `env` (SECRET_CONFIG_ENV), checked: a JSON object of text values whose keys
 * are the SECRET_CONFIG_KEYS in the `cc-ci:` namespace; anything else fails, naming what is wrong.
 */
export function secretConfigFromEnv(env: Record<string, string | undefined>): Record<string, string> {
  const text = env[SECRET_CONFIG_ENV];
  if (text === undefined || text === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ValidationError(SECRET_CONFIG_ENV, [
      { path: "", message: `not JSON: ${(e as Error).message}` },
    ]);
  }
  const values = parseOrThrow(z.record(z.string(), z.string()), parsed, SECRET_CONFIG_ENV);
  const keys = [...SECRET_CONFIG_KEYS].map((k) => `${CONFIG_NAMESPACE}:${k}`);
  const others = Object.keys(values).filter((k) => !keys.includes(k));
  if (others.length > 0)
    throw new ValidationError(
      SECRET_CONFIG_ENV,
      others.map((k) => ({ path: k, message: `a key other than ${keys.join(", ")}` })),
    );
  return values;
}

/**
 * The operator's run defaults (`--defaults FILE`): the run settings above, with the same rules and
 * defaults, plus how long a run waits for its app through Traefik and the tests' sandbox.
 */
export const RunDefaults = z.strictObject({
  ...RunSettings,
  sandbox: SandboxSettings.prefault({}).describe("The container the tests run in."),
  readyTimeout: z
    .number()
    .int()
    .positive()
    .default(300)
    .describe("Seconds the app gets to answer through Traefik after `up`. Default: 300."),
  converge: z
    .strictObject({
      stableSeconds: z
        .number()
        .min(0)
        .max(300)
        .default(5)
        .describe(
          "Seconds each task must have been running (and healthy) before its service counts as converged, as `docker stack deploy --detach=false` verifies that tasks are stable. Default: 5.",
        ),
      crashLimit: z
        .number()
        .int()
        .min(1)
        .max(100)
        .default(3)
        .describe(
          "Times a service's tasks may end (exit, fail, be rejected) before the run fails at once with the last exit code and log lines, instead of waiting out the deploy timeout. Default: 3.",
        ),
    })
    .prefault({})
    .describe("How the converge phase judges the recipe's services."),
});
export type RunDefaults = z.output<typeof RunDefaults>;

/** The part of the run defaults a run stack's config carries (what the agent itself uses stays out). */
export function runSettingsOf(defaults: RunDefaults) {
  const { readyTimeout: _ready, sandbox: _sandbox, converge: _converge, ...settings } = defaults;
  return settings;
}

/** One config entry as Pulumi's Automation API takes it (structurally its ConfigValue). */
export interface ConfigEntry {
  value: string;
  secret?: boolean;
}

/** Pulumi's flat config map for `values`: `cc-ci:<key>` → string, objects and numbers as JSON. */
export function encodeConfig(values: Record<string, unknown>): Record<string, ConfigEntry> {
  const out: Record<string, ConfigEntry> = {};
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) continue;
    out[`${CONFIG_NAMESPACE}:${k}`] = {
      value: typeof v === "string" ? v : JSON.stringify(v),
      ...(SECRET_CONFIG_KEYS.has(k) ? { secret: true } : {}),
    };
  }
  return out;
}

/**
 * The `cc-ci:` keys of Pulumi's flat config map, each decoded by the type the schema of `role` gives
 * it (lib/configCodec.ts): a string setting stays the exact text it was set to, whatever it looks
 * like; numbers, booleans, lists and objects decode from their text (a quoted `"8"` included).
 */
export function decodeConfig(raw: Record<string, string>, role?: "warm" | "run"): Record<string, unknown> {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const tree: Record<string, Untyped> = {};
  for (const [key, text] of Object.entries(raw))
    if (key.startsWith(prefix)) tree[key.slice(prefix.length)] = new Untyped(text);
  return decodeBySchema(schemaOfRole(role), tree) as Record<string, unknown>;
}

function schemaOfRole(role: string | undefined): z.ZodType {
  return role === "warm" ? WarmConfig : role === "run" ? RunConfig : StackConfig;
}

/** The role a stack has by its name: `warm`/`warm-…` → warm, `run-…` → run. */
export function roleOfStack(stackName: string): "warm" | "run" | undefined {
  if (stackName === "warm" || stackName.startsWith("warm-")) return "warm";
  if (stackName.startsWith("run-")) return "run";
  return undefined;
}

/**
 * Turns Pulumi's flat config map into the stack's config, every problem listed by path. The role
 * defaults from the stack name.
 */
export function parseStackConfig(raw: Record<string, string>, stackName: string): StackConfig {
  const role = raw[`${CONFIG_NAMESPACE}:role`] ?? roleOfStack(stackName);
  if (role === undefined)
    throw new ValidationError("stack config", [
      { path: "role", message: `stack "${stackName}" is neither warm nor run-…: set cc-ci:role` },
    ]);
  const values = decodeConfig(raw, role === "warm" || role === "run" ? role : undefined);
  values.role ??= role;
  return parseOrThrow(StackConfig, values, "stack config");
}

/**
 * The `cc-ci:*` values of a warm stack's settings file (Pulumi.<stack>.yaml), without the namespace,
 * decoded by the warm schema's types as the program decodes what Pulumi hands it: a top-level scalar
 * is its text (Pulumi may write scalars back quoted: `slots: "8"` after `pulumi stack init` or
 * `pulumi config set`), a plain nested scalar its exact text where the schema takes a string.
 */
export function readStackFile(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  const doc = yamlTree(readFileSync(file, "utf8"));
  const config = doc !== null && typeof doc === "object" ? (doc as { config?: unknown }).config : undefined;
  const prefix = `${CONFIG_NAMESPACE}:`;
  const tree: Record<string, unknown> = {};
  if (config !== null && typeof config === "object")
    for (const [k, v] of Object.entries(config)) if (k.startsWith(prefix)) tree[k.slice(prefix.length)] = v;
  return decodeBySchema(WarmConfig, tree) as Record<string, unknown>;
}

/** The warm layer's settings from its file (Pulumi.warm.yaml), parsed and defaulted by the schema. */
export function readWarmSettings(file: string, overrides: Record<string, unknown> = {}): WarmConfig {
  return parseOrThrow(WarmConfig, { ...readStackFile(file), ...overrides, role: "warm" }, file);
}

/**
 * The operator's run defaults file, or the defaults when there is none; `catalogue` (cc-ci's
 * `--catalogue`, relative to the working folder) replaces the file's.
 */
export function readRunDefaults(file: string | undefined, catalogue?: string): RunDefaults {
  const read = readDefaultsFile(file);
  if (catalogue !== undefined) read.catalogue = path.resolve(catalogue);
  return read;
}

function readDefaultsFile(file: string | undefined): RunDefaults {
  if (!file) return RunDefaults.parse({});
  if (!existsSync(file)) throw new Error(`run defaults file ${file} does not exist`);
  const tree = yamlTree(readFileSync(file, "utf8"));
  const empty = tree instanceof Untyped && tree.text.trim() === "";
  const defaults = parseOrThrow(
    RunDefaults,
    decodeBySchema(RunDefaults, empty ? {} : tree),
    `run defaults ${file}`,
  );
  // The catalogue is where the file says, wherever cc-ci is started from.
  if (defaults.catalogue !== undefined)
    defaults.catalogue = path.resolve(path.dirname(path.resolve(file)), defaults.catalogue);
  return defaults;
}
