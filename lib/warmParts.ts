/**
 * The settings of the warm layer's parts — Traefik, Keycloak and its database, the image registry —
 * and the resources and placement any of them (and a run's own Traefik or cold Keycloak) takes.
 * Each setting keeps its type, description and default together; lib/config.ts composes them into
 * the stack's config.
 */
import { z } from "zod";
import { byteSize, port, url } from "./configTypes";
import { hubName } from "./registry";

export const Resources = z
  .strictObject({
    memoryLimit: byteSize.optional().describe("Memory limit of each task (e.g. 512m). Default: none."),
    memoryReservation: byteSize
      .optional()
      .describe("Memory the scheduler reserves for each task. Default: none."),
    cpuLimit: z.number().positive().optional().describe("CPU limit in cores, e.g. 1.5. Default: none."),
  })
  .describe("Per-task resource limits.");
export type Resources = z.output<typeof Resources>;

const Placement = z
  .array(z.string().min(1))
  .default([])
  .describe("Placement constraints for multi-node swarms, e.g. node.role==manager. Default: [].");

const Tls = z.discriminatedUnion("mode", [
  z.strictObject({ mode: z.literal("none") }),
  z.strictObject({
    mode: z.literal("file"),
    certFile: z
      .string()
      .min(1)
      .describe("Path on the Pulumi host of the wildcard certificate (PEM) for *.<domain>."),
    keyFile: z.string().min(1).describe("Path on the Pulumi host of its private key (PEM)."),
  }),
  z.strictObject({
    mode: z.literal("acme"),
    email: z.email().describe("Account e-mail for the ACME CA."),
    caServer: url
      .default("https://acme-v02.api.letsencrypt.org/directory")
      .describe("ACME directory. Default: Let's Encrypt production."),
    challenge: z
      .enum(["tls", "http"])
      .default("tls")
      .describe("tls (TLS-ALPN-01 on web-secure) or http (HTTP-01 on web). Default: tls."),
  }),
]);
export type TlsConfig = z.output<typeof Tls>;

export const TraefikConfig = z.strictObject({
  image: z.string().min(1).default("traefik:v3.6").describe("Traefik v3 image. Default: traefik:v3.6."),
  httpPort: port
    .default(80)
    .describe("Host port of the `web` entrypoint, published in host mode. Default: 80."),
  httpsPort: port
    .default(443)
    .describe("Host port of the `web-secure` entrypoint, published in host mode. Default: 443."),
  tls: Tls.default({ mode: "none" }).describe(
    "TLS on web-secure: none, a wildcard certificate file, or ACME. Default: {mode: none}.",
  ),
  defaultRuleSyntax: z
    .enum(["v2", "v3"])
    .default("v2")
    .describe(
      "Rule syntax of routers that name none (core.defaultRuleSyntax): v2 as Co-op Cloud's Traefik runs, so recipes' multi-host Host() rules (EXTRA_DOMAINS) route. Default: v2.",
    ),
  logLevel: z
    .enum(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"])
    .default("INFO")
    .describe("Traefik's log level. Default: INFO."),
  dockerSocket: z
    .string()
    .min(1)
    .default("/var/run/docker.sock")
    .describe(
      "Docker socket on the managers, mounted into the read-only Docker API proxy (never into Traefik). Default: /var/run/docker.sock.",
    ),
  apiProxyImage: z
    .string()
    .min(1)
    .default("haproxy:2.6")
    .describe(
      "HAProxy image of the read-only Docker API proxy Traefik reads the swarm through (config mounted from images/haproxy). Default: haproxy:2.6.",
    ),
  resources: Resources.prefault({}),
  placement: Placement,
});
export type TraefikConfig = z.output<typeof TraefikConfig>;

const pgName = z.string().regex(/^[a-z_][a-z0-9_]*$/, { message: "must be a lower-case SQL identifier" });

export const DatabaseConfig = z.strictObject({
  image: z
    .string()
    .min(1)
    .default("postgres:15")
    .describe("PostgreSQL image (the official image's POSTGRES_* conventions). Default: postgres:15."),
  name: pgName.default("keycloak").describe("Database name. Default: keycloak."),
  user: pgName.default("keycloak").describe("Database user. Default: keycloak."),
  resources: Resources.prefault({}),
  placement: Placement,
});

export const KeycloakConfig = z.strictObject({
  image: z
    .string()
    .min(1)
    .default("quay.io/keycloak/keycloak:26.4")
    .describe(
      "Keycloak image with the official image's layout (/opt/keycloak/bin/kc.sh). Default: quay.io/keycloak/keycloak:26.4.",
    ),
  command: z
    .array(z.string())
    .min(1)
    .default(["start"])
    .describe(
      'Arguments to kc.sh: ["start", "--optimized"] for an image built for PostgreSQL. Default: ["start"].',
    ),
  hostname: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
    .default("warm-keycloak")
    .describe("Keycloak's host name under the CI domain: <hostname>.<domain>. Default: warm-keycloak."),
  adminPort: port
    .nullable()
    .default(8180)
    .describe(
      "Host port for admin calls from the CI host, bound to 127.0.0.1 only; null to not publish it (then set adminUrl). Default: 8180.",
    ),
  adminUrl: url
    .optional()
    .describe("URL the CI host uses for admin calls. Default: http://127.0.0.1:<adminPort>."),
  gatewayImage: z
    .string()
    .min(1)
    .default("haproxy:2.6")
    .describe(
      "HAProxy image of the admin gateway that publishes Keycloak's admin port on 127.0.0.1 only. Default: haproxy:2.6.",
    ),
  adminUser: z
    .string()
    .min(1)
    .default("ccci-admin")
    .describe("Master-realm admin created at first start (its password is generated). Default: ccci-admin."),
  provisioningClientId: z
    .string()
    .min(1)
    .default("cc-ci-provisioner")
    .describe(
      "Client id of the provisioning client runs use (its service account may only create realms). Default: cc-ci-provisioner.",
    ),
  resources: Resources.prefault({ memoryLimit: "1536m" }).describe(
    "Per-task limits. Default: memoryLimit 1536m.",
  ),
  placement: Placement,
  database: DatabaseConfig.prefault({}),
  enabled: z
    .boolean()
    .default(true)
    .describe(
      "Warm layer only: false for a warm Traefik alone (runs that want SSO then bring a cold Keycloak). Default: true.",
    ),
  realmPool: z
    .number()
    .int()
    .min(0)
    .max(32)
    .default(4)
    .describe(
      "Warm layer only: realms kept ready for runs to claim (a run's realm is then ready at once; runs top the pool up). 0: runs create their realms. Default: 4.",
    ),
});
export type KeycloakConfig = z.output<typeof KeycloakConfig>;

/** The warm PostgreSQL runs get a database of their own on (`postgres` dependencies; lib/deps). */
export const PostgresConfig = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .describe(
      "Warm layer only: serve `postgres` dependencies warm (each run gets a database and a role on it); false: runs that need one deploy their own. Default: false.",
    ),
  image: z
    .string()
    .min(1)
    .default("postgres:15")
    .describe("PostgreSQL image (the official image's POSTGRES_* conventions). Default: postgres:15."),
  adminPort: port
    .default(15432)
    .describe(
      "Host port for provisioning from the CI host, bound to 127.0.0.1 only (through a gateway container no container can reach). Default: 15432.",
    ),
  gatewayImage: z
    .string()
    .min(1)
    .default("haproxy:2.6")
    .describe("HAProxy image of that gateway and of the runs' gateways to it. Default: haproxy:2.6."),
  resources: Resources.prefault({ memoryLimit: "512m" }).describe(
    "Per-task limits. Default: memoryLimit 512m.",
  ),
  placement: Placement,
});
export type PostgresConfig = z.output<typeof PostgresConfig>;

/** The warm S3 server runs get buckets and an account of their own on (`s3` dependencies; lib/deps). */
export const S3Config = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .describe(
      "Warm layer only: serve `s3` dependencies warm (each run gets its buckets and an account that may use only them); false: runs that need one deploy their own. Default: false.",
    ),
  image: z
    .string()
    .min(1)
    .default("versity/versitygw:v1.8.0")
    .describe("The Versity S3 Gateway's image. Default: versity/versitygw:v1.8.0."),
  hostname: z
    .string()
    .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
    .default("warm-s3")
    .describe(
      "Warm layer only: the S3 API's host name under the CI domain, <hostname>.<domain>, routed by the warm Traefik (where browsers and the tests reach it: presigned URLs). Default: warm-s3.",
    ),
  adminPort: port
    .default(17071)
    .describe("Host port of its admin API for the CI host, bound to 127.0.0.1 only. Default: 17071."),
  apiPort: port
    .default(17070)
    .describe("Host port of its S3 API for the CI host (emptying buckets), 127.0.0.1 only. Default: 17070."),
  gatewayImage: z
    .string()
    .min(1)
    .default("haproxy:2.6")
    .describe("HAProxy image of those gateways and of the runs' gateways to it. Default: haproxy:2.6."),
  resources: Resources.prefault({ memoryLimit: "512m" }).describe(
    "Per-task limits. Default: memoryLimit 512m.",
  ),
  placement: Placement,
});
export type S3Config = z.output<typeof S3Config>;

/**
 * The mail catcher a run with an `smtp` dependency gets (lib/deps): always the run's own, inside its
 * stack (Mailpit lets whoever reaches its API read every message, so one is never shared).
 */
export const SmtpConfig = z.strictObject({
  image: z
    .string()
    .min(1)
    .default("axllent/mailpit:v1.33.1")
    .describe("Mailpit's image. Default: axllent/mailpit:v1.33.1."),
  maxMessages: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(500)
    .describe("Messages it keeps; older ones go first (Mailpit's --max). Default: 500."),
  resources: Resources.prefault({ memoryLimit: "128m" }).describe(
    "Per-task limits. Default: memoryLimit 128m.",
  ),
});
export type SmtpConfig = z.output<typeof SmtpConfig>;

/** Private IPv4 ranges (RFC 1918, shared address space, link-local): where an open registry may listen. */
function privateV4(a: string): boolean {
  const [x, y] = a.split(".").map(Number);
  return (
    x === 10 ||
    (x === 172 && y >= 16 && y <= 31) ||
    (x === 192 && y === 168) ||
    (x === 100 && y >= 64 && y <= 127) ||
    (x === 169 && y === 254)
  );
}

export const RegistryConfig = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        "Warm layer only: an image registry on the manager that worker nodes' engines use as their registry mirror, so images reach them (scripts/env/nodes.sh points workers at it). Default: false.",
      ),
    image: z
      .string()
      .min(1)
      .default("registry:2.8")
      .describe("Registry image with the official image's layout (registry:2). Default: registry:2.8."),
    address: z
      .ipv4()
      .refine(privateV4, {
        message:
          "must be a private address (10/8, 172.16/12, 192.168/16, 100.64/10, 169.254/16): the registry takes pushes without authentication, so it is never published where the world reaches it",
      })
      .optional()
      .describe(
        "The manager's address that worker engines reach the registry at (their --registry-mirror http://<address>:<port>); it also listens on 127.0.0.1 for the CI host. Required when enabled.",
      ),
    port: port.default(5000).describe("Its port, on both addresses. Default: 5000."),
    pullThrough: url
      .optional()
      .describe(
        "For hosts that reach a remote registry: the registry becomes a pull-through cache of the one at this API URL (Docker Hub's, for Docker Hub's images), and workers' pulls go through it. Default: none (a registry `cc-ci warm up` seeds).",
      ),
    seed: z
      .array(z.string().min(1))
      .default([])
      .describe(
        "Images of the CI host pushed to the registry by `cc-ci warm up` under their Docker Hub names, so workers pull them (for hosts that build images locally). Default: [].",
      ),
    diskBudget: byteSize
      .default("20g")
      .describe(
        "Most the registry's storage may hold: `cc-ci audit` reports a registry over it, and `--reap` empties a pull-through cache or collects a seeded registry's garbage. Default: 20g.",
      ),
    resources: Resources.prefault({ memoryLimit: "256m" }).describe("Limits. Default: memoryLimit 256m."),
  })
  .superRefine((r, ctx) => {
    if (r.enabled && r.address === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["address"],
        message: "required when the registry is enabled: the address worker engines reach it at",
      });
    r.seed.forEach((image, i) => {
      const name = hubName(image);
      if ("problem" in name) ctx.addIssue({ code: "custom", path: ["seed", i], message: name.problem });
    });
    if (r.pullThrough && r.seed.length > 0)
      ctx.addIssue({
        code: "custom",
        path: ["seed"],
        message: "a pull-through cache takes no pushes: seed only a registry without pullThrough",
      });
  });
export type RegistryConfig = z.output<typeof RegistryConfig>;
