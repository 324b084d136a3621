/**
 * The stack configuration (namespace `cc-ci`), parsed once at the program's entry. Each field keeps
 * its type, its description and its default together; unknown keys are errors (a typo in
 * Pulumi.warm.yaml must not silently fall back to a default).
 */
import { z } from "zod";
import { parseOrThrow, ValidationError } from "./errors";
import { RUN_ID_PATTERN } from "./naming";

export const CONFIG_NAMESPACE = "cc-ci";

const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, {
    message: "must be a lower-case DNS name such as ci.example.org",
  });
const port = z.number().int().min(1).max(65535);
const url = z.url({ protocol: /^https?$/, message: "must be an http(s) URL" });
/** Docker's byte sizes: 512m, 1.5g, 1024k or a plain number of bytes. */
export const byteSize = z
  .union([z.number().int().positive(), z.string().regex(/^\d+(\.\d+)?\s*[kmg]?b?$/i)])
  .describe("bytes, or a size such as 512m or 2g");

export const Resources = z
  .strictObject({
    /** Memory limit of each task (Docker size such as 512m). Default: none. */
    memoryLimit: byteSize.optional(),
    /** Memory the scheduler reserves for each task. Default: none. */
    memoryReservation: byteSize.optional(),
    /** CPU limit in cores, e.g. 1.5. Default: none. */
    cpuLimit: z.number().positive().optional(),
  })
  .describe("per-task resource limits");

/** Swarm placement of a service, for multi-node swarms. Default: no constraint. */
const Placement = z
  .array(z.string().min(1))
  .default([])
  .describe("placement constraints, e.g. node.role==manager");

const Tls = z.discriminatedUnion("mode", [
  z.strictObject({ mode: z.literal("none") }),
  z.strictObject({
    mode: z.literal("file"),
    /** Path on the Pulumi host of the wildcard certificate (PEM) for `*.<domain>`. */
    certFile: z.string().min(1),
    /** Path on the Pulumi host of its private key (PEM). */
    keyFile: z.string().min(1),
  }),
  z.strictObject({
    mode: z.literal("acme"),
    /** Account e-mail for the ACME CA. */
    email: z.email(),
    /** ACME directory. Default: Let's Encrypt production. */
    caServer: url.default("https://acme-v02.api.letsencrypt.org/directory"),
    /** Challenge type: tls (TLS-ALPN-01 on web-secure) or http (HTTP-01 on web). Default: tls. */
    challenge: z.enum(["tls", "http"]).default("tls"),
  }),
]);
export type TlsConfig = z.output<typeof Tls>;

export const TraefikConfig = z.strictObject({
  /** Traefik v3 image. Default: the official traefik:v3.6 image. */
  image: z.string().min(1).default("traefik:v3.6"),
  /** Host port of the `web` entrypoint, published in host mode (the ingress mesh is not used). Default: 80. */
  httpPort: port.default(80),
  /** Host port of the `web-secure` entrypoint, published in host mode. Default: 443. */
  httpsPort: port.default(443),
  /** TLS for web-secure: none, a wildcard certificate file, or ACME. Default: none. */
  tls: Tls.default({ mode: "none" }),
  /** Traefik's log level. Default: INFO. */
  logLevel: z.enum(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]).default("INFO"),
  /** Docker socket on the nodes, mounted read-only for the swarm provider. Default: /var/run/docker.sock. */
  dockerSocket: z.string().min(1).default("/var/run/docker.sock"),
  resources: Resources.prefault({}),
  placement: Placement,
});
export type TraefikConfig = z.output<typeof TraefikConfig>;

export const DatabaseConfig = z.strictObject({
  /** PostgreSQL image (the official image's env conventions). Default: postgres:15. */
  image: z.string().min(1).default("postgres:15"),
  /** Database name. Default: keycloak. */
  name: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .default("keycloak"),
  /** Database user. Default: keycloak. */
  user: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .default("keycloak"),
  resources: Resources.prefault({}),
  placement: Placement,
});

export const KeycloakConfig = z.strictObject({
  /** Keycloak image; must have the official image's layout (/opt/keycloak, kc.sh). Default: the official 26.x image. */
  image: z.string().min(1).default("quay.io/keycloak/keycloak:26.4"),
  /** Arguments to kc.sh. Use ["start", "--optimized"] with an image built for PostgreSQL. Default: ["start"]. */
  command: z.array(z.string()).min(1).default(["start"]),
  /** Host name label under the CI domain: <hostname>.<domain>. Default: warm-keycloak. */
  hostname: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
    .default("warm-keycloak"),
  /**
   * Host port on which Keycloak's HTTP port is published (host mode) for admin calls from the CI host;
   * null to not publish. Default: 8180.
   */
  adminPort: port.nullable().default(8180),
  /** The URL the CI host uses for admin calls. Default: http://127.0.0.1:<adminPort>. */
  adminUrl: url.optional(),
  /** Admin user created at first start (its password is generated). Default: ccci-admin. */
  adminUser: z.string().min(1).default("ccci-admin"),
  /** Client id of the provisioning client (service account with create-realm only). Default: cc-ci-provisioner. */
  provisioningClientId: z.string().min(1).default("cc-ci-provisioner"),
  resources: Resources.prefault({ memoryLimit: "1536m" }),
  placement: Placement,
  database: DatabaseConfig.prefault({}),
});
export type KeycloakConfig = z.output<typeof KeycloakConfig>;

const Common = {
  /** Docker API the providers use. Default: unix:///var/run/docker.sock. */
  dockerHost: z.string().min(1).default("unix:///var/run/docker.sock"),
};

export const WarmConfig = z.strictObject({
  role: z.literal("warm"),
  /** CI domain: apps of runs live at <run id>.<domain>, Keycloak at <hostname>.<domain>. Default: ci.localhost. */
  domain: hostname.default("ci.localhost"),
  /** Name of the shared overlay network Traefik routes on. Default: proxy. */
  proxyNetwork: z
    .string()
    .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/)
    .default("proxy"),
  ...Common,
  traefik: TraefikConfig.prefault({}),
  keycloak: KeycloakConfig.prefault({}),
});
export type WarmConfig = z.output<typeof WarmConfig>;

export const RecipePolicy = z.strictObject({
  /** Allow `privileged: true` services. Default: false. */
  privileged: z.boolean().default(false),
  /** Allow host networking and host PID/IPC namespaces. Default: false. */
  hostNamespaces: z.boolean().default(false),
  /** Allow mounting the Docker socket. Default: false. */
  dockerSocket: z.boolean().default(false),
  /** Allow bind mounts of paths outside the recipe folder. Default: false. */
  bindMountsOutsideRecipe: z.boolean().default(false),
  /** Allow added capabilities and devices. Default: false. */
  capabilities: z.boolean().default(false),
});
export type RecipePolicy = z.output<typeof RecipePolicy>;

export const RunConfig = z.strictObject({
  role: z.literal("run"),
  /** The run's id, <first 4 of recipe>-<6 hex>. Set by `cc-ci run`. */
  runId: z.string().regex(RUN_ID_PATTERN, { message: "must look like <first 4 of recipe>-<6 hex>" }),
  /** Absolute path of the recipe folder. */
  recipeDir: z.string().regex(/^\//, { message: "must be an absolute path" }),
  /** Recipe name; default: the folder's name. */
  recipe: z.string().min(1).optional(),
  /** Pull request number and commit under test, recorded as labels. */
  pr: z.number().int().positive().optional(),
  ref: z
    .union([z.string(), z.number()])
    .transform(String)
    .pipe(z.string().regex(/^[0-9a-zA-Z._/-]{1,100}$/))
    .optional(),
  /** SSO: auto (warm if the warm stack offers it, else cold), warm, cold, or off. Default: auto. */
  sso: z.enum(["auto", "warm", "cold", "off"]).default("auto"),
  /**
   * Fully-qualified warm stack, or "" when there is none (then the run brings its own Traefik and,
   * unless sso is off, a cold Keycloak). `cc-ci run` sets "" when the stack does not exist, because a
   * StackReference to a missing stack fails the whole update. Default: organization/cc-ci/warm.
   */
  warmStack: z.string().default("organization/cc-ci/warm"),
  /** Used only when no warm stack provides one: the CI domain of the run's own Traefik. Default: ci.localhost. */
  domain: hostname.default("ci.localhost"),
  ...Common,
  /** Used only when no warm stack provides a proxy: the run's own Traefik. */
  traefik: TraefikConfig.prefault({}),
  /** Used only for a cold Keycloak (inside the run stack). */
  keycloak: KeycloakConfig.prefault({}),
  /** Values for the recipe's .env (override .env.sample; may refer to the run's CI_* values). Default: none. */
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
  /** Image substitutions, e.g. {"nginx:1.25": "cc-ci/nginx:bookworm"} for offline hosts. Default: none. */
  images: z.record(z.string().min(1), z.string().min(1)).default({}),
  /** A recipe secret (its compose key) whose content is the OIDC client secret instead of a generated one. */
  oidcClientSecret: z.string().min(1).optional(),
  /** The test user's name in the run's realm. Default: ci-user. */
  testUser: z
    .string()
    .regex(/^[a-z0-9._-]{1,64}$/)
    .default("ci-user"),
  /** What recipes may do on this shared host. Default: nothing dangerous. */
  policy: RecipePolicy.prefault({}),
  /** Seconds the recipe's services get to be running and healthy before `up` fails. Default: 600. */
  deployTimeout: z.number().int().positive().default(600),
});
export type RunConfig = z.output<typeof RunConfig>;

export const StackConfig = z.discriminatedUnion("role", [WarmConfig, RunConfig]);
export type StackConfig = z.output<typeof StackConfig>;

/**
 * Turns Pulumi's flat config map (`cc-ci:key` → string, objects as JSON) into the stack's config.
 * The role defaults from the stack name: `warm` → warm, `run-…` → run.
 */
export function parseStackConfig(raw: Record<string, string>, stackName: string): StackConfig {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const values: Record<string, unknown> = {};
  const problems = [];
  for (const [key, text] of Object.entries(raw)) {
    if (!key.startsWith(prefix)) continue;
    const name = key.slice(prefix.length);
    values[name] = decode(text);
  }
  if (values.role === undefined) {
    if (stackName === "warm" || stackName.startsWith("warm-")) values.role = "warm";
    else if (stackName.startsWith("run-")) values.role = "run";
    else
      problems.push({
        path: "role",
        message: `stack "${stackName}" is neither warm nor run-…: set cc-ci:role`,
      });
  }
  if (problems.length > 0) throw new ValidationError("stack config", problems);
  return parseOrThrow(StackConfig, values, "stack config");
}

/** Pulumi hands every config value over as a string; objects, arrays, numbers and booleans as JSON. */
function decode(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
