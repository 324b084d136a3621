/**
 * The contract between the warm stack and run stacks: what the warm stack exports and a run reads
 * through a StackReference. A run validates it with this schema, so a missing, old or incomplete warm
 * stack is a clear message (and, with sso=auto, a cold fallback) rather than an undefined at deploy.
 * Bump CONTRACT_VERSION when a field changes meaning; add optional fields freely.
 */
import { z } from "zod";
import { zodProblems, type Problem } from "./errors";

export const CONTRACT_VERSION = 2;

export const ProxyContract = z.object({
  /** CI domain; a run's app lives at <run id>.<domain>. */
  domain: z.string().min(1),
  /**
   * Traefik's slot networks: each run leases one for itself (its exposed services and its tests
   * join it), so runs never share a network with each other, nor with Keycloak.
   */
  networks: z.array(z.string().min(1)).min(1),
  /** Entrypoints a run's routers may use. */
  entrypoints: z.object({ web: z.string(), webSecure: z.string() }),
  /** Scheme apps are served with (https when TLS is configured). */
  scheme: z.enum(["http", "https"]),
  /** Host ports of the entrypoints, for reaching apps from the CI host. */
  httpPort: z.number().int(),
  httpsPort: z.number().int(),
  /** Name of the certificate resolver run routers must use, if any (ACME mode). */
  certResolver: z.string().optional(),
  /** Traefik's core.defaultRuleSyntax (warm stacks from before it was exported ran Traefik's default, v3). */
  defaultRuleSyntax: z.enum(["v2", "v3"]).default("v3"),
});
export type ProxyContract = z.output<typeof ProxyContract>;

export const KeycloakContract = z.object({
  /** Public base URL (issuer URLs start with it): what browsers and apps use. */
  publicUrl: z.url(),
  /** Base URL the CI host uses for admin calls. */
  adminUrl: z.url(),
  /** Provisioning identity: a master-realm client whose service account may only create realms. */
  provisioning: z.object({
    realm: z.string().min(1),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
  }),
  /** Docker service name of Keycloak, reachable from the proxy network (tasks.<name>). */
  service: z.string().min(1),
  /** Pooled realms runs may claim and top up (automation/adapters/realmPool.ts); 0: none. */
  realmPool: z.number().int().min(0).default(0),
});
export type KeycloakContract = z.output<typeof KeycloakContract>;

/** The warm PostgreSQL (`postgres` dependencies): how the CI host provisions a run's unit on it. */
export const PostgresContract = z.object({
  /** Where the CI host reaches it: the gateway on 127.0.0.1. */
  adminHost: z.string().min(1),
  adminPort: z.number().int().min(1).max(65535),
  /** The provisioning role: it may create databases and hand them to a run's role, nothing else. */
  provisioning: z.object({ user: z.string().min(1), password: z.string().min(1) }),
  /** The overlay network a run's gateway joins to reach it (no recipe service joins it). */
  network: z.string().min(1),
  /** Docker service name (the gateway forwards to it). */
  service: z.string().min(1),
  /** The image's major version, for `cc-ci check`. */
  image: z.string().min(1),
  /** The HAProxy image of a run's gateway. */
  gatewayImage: z.string().min(1),
});
export type PostgresContract = z.output<typeof PostgresContract>;

/** The warm S3 server (`s3` dependencies): how the CI host makes a run's account and buckets on it. */
export const S3Contract = z.object({
  /** The root account's admin API and S3 API, each through a gateway on 127.0.0.1. */
  admin: z.object({ endpoint: z.url(), access: z.string().min(1), secret: z.string().min(1) }),
  apiEndpoint: z.url(),
  /** Its S3 API through the warm Traefik, at warm-s3.<domain> (absent on warm stacks made before it). */
  publicEndpoint: z.url().optional(),
  region: z.string().min(1),
  /** The overlay network a run's gateway joins to reach it (no recipe service joins it). */
  network: z.string().min(1),
  /** Docker service name (the gateway forwards to its S3 port). */
  service: z.string().min(1),
  gatewayImage: z.string().min(1),
});
export type S3Contract = z.output<typeof S3Contract>;

/** The warm instances of dependency kinds (lib/deps); each optional. */
export const DepsContract = z.object({ postgres: PostgresContract.optional(), s3: S3Contract.optional() });
export type DepsContract = z.output<typeof DepsContract>;

export const WarmOutputs = z.object({
  contractVersion: z.literal(CONTRACT_VERSION),
  proxy: ProxyContract,
  keycloak: KeycloakContract.optional(),
  deps: DepsContract.optional(),
});
export type WarmOutputs = z.output<typeof WarmOutputs>;

/** What the warm layer's outputs say of its registry (`cc-ci warm up` seeds it, audits weigh it). */
export interface RegistryOutputs {
  /** Where the CI host pushes: 127.0.0.1:<port>. */
  push: string;
  /** What worker engines take as their mirror: http://<address>:<port>. */
  mirror: string;
  container: string;
  volume: string;
  pullThrough: boolean;
  seed: string[];
  diskBudgetBytes: number;
}

export type ContractRead =
  | { ok: true; proxy: ProxyContract; keycloak?: KeycloakContract; deps?: DepsContract; problems: Problem[] }
  | { ok: false; problems: Problem[] };

/**
 * Reads a warm stack's outputs. The proxy part is required for `ok`; a broken keycloak part is
 * reported in `problems` and left out, so a run can still use the warm Traefik with a cold Keycloak.
 */
export function readWarmOutputs(outputs: Record<string, unknown> | undefined): ContractRead {
  if (!outputs || Object.keys(outputs).length === 0) {
    return {
      ok: false,
      problems: [{ path: "", message: "the warm stack has no outputs (missing or never deployed)" }],
    };
  }
  const version = outputs.contractVersion;
  if (version !== CONTRACT_VERSION) {
    return {
      ok: false,
      problems: [
        {
          path: "contractVersion",
          message: `warm stack speaks contract ${JSON.stringify(version)}, this program ${CONTRACT_VERSION}: run \`pulumi up -s warm\``,
        },
      ],
    };
  }
  const proxy = ProxyContract.safeParse(outputs.proxy);
  if (!proxy.success) return { ok: false, problems: zodProblems(proxy.error, "proxy") };
  // A broken part is left out with its problems: the rest of the layer stays usable.
  const problems: Problem[] = [];
  let deps: DepsContract | undefined;
  if (outputs.deps !== undefined) {
    const d = DepsContract.safeParse(outputs.deps);
    if (d.success) deps = d.data;
    else problems.push(...zodProblems(d.error, "deps"));
  }
  const base = { ok: true as const, proxy: proxy.data, ...(deps ? { deps } : {}) };
  // A warm Traefik alone (keycloak.enabled: false) is a layer as meant, not a broken one: runs on it
  // bring their own Keycloak, and audits find nothing wrong with it.
  if (outputs.keycloak === undefined) return { ...base, problems };
  const keycloak = KeycloakContract.safeParse(outputs.keycloak);
  if (!keycloak.success)
    return { ...base, problems: [...problems, ...zodProblems(keycloak.error, "keycloak")] };
  return { ...base, keycloak: keycloak.data, problems };
}
