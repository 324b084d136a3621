/**
 * Traefik as a swarm service: attached from the start to every network it will ever route on (the
 * warm layer's slot networks, one per concurrent run, and the network Keycloak is on), so it never
 * restarts because a run starts or ends; entrypoints `web` and `web-secure` published in host mode;
 * the swarm provider (exposedByDefault off) reading the swarm through a read-only Docker API proxy,
 * never the raw socket; ping only on its own loopback; TLS from a wildcard certificate file or ACME.
 */
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { TraefikConfig } from "../lib/config";
import { contentHash, prefixedName, OBJECT_NAME_MAX } from "../lib/naming";
import { DockerApiProxy } from "./dockerApiProxy";
import {
  CONVERGE,
  healthTiming,
  CREATE_BEFORE_DELETE,
  restartPolicy,
  labelList,
  taskResources,
} from "./util";

export const ENTRYPOINTS = { web: "web", webSecure: "web-secure" } as const;
export const ACME_RESOLVER = "ccci-acme";
/** Traefik's ping, on its own loopback only: nothing on any network it shares can reach it. */
const PING = ["--entrypoints.ping.address=127.0.0.1:8082", "--ping=true", "--ping.entrypoint=ping"];

export interface TraefikArgs {
  /** Traefik's settings (image, ports, TLS, resources, placement). */
  config: TraefikConfig;
  /** Prefix of every Docker name (the stack's). */
  prefix: string;
  /** The overlay networks Traefik creates and routes on, all attached from the start; the first is its default. */
  networkNames: string[];
  /** Labels on every Docker object. */
  labels: Record<string, string>;
  /** Only route services with these labels (a run's own Traefik routes only its run). Default: all. */
  constraintLabels?: Record<string, string>;
  provider: docker.Provider;
  /** Seconds between healthchecks. Default: 5. */
  healthcheckSeconds?: number;
}

/** What Traefik's task mounts for its TLS mode, and what must exist before it starts. */
interface TlsMaterial {
  configs: docker.types.input.ServiceTaskSpecContainerSpecConfig[];
  secrets: docker.types.input.ServiceTaskSpecContainerSpecSecret[];
  mounts: docker.types.input.ServiceTaskSpecContainerSpecMount[];
  dependsOn: pulumi.Resource[];
}

export class Traefik extends pulumi.ComponentResource {
  /** The routed networks, by name, in the order given. */
  public readonly networks: Record<string, docker.Network>;
  /** The first routed network. */
  public readonly network: docker.Network;
  public readonly service: docker.Service;
  /** The read-only Docker API proxy Traefik reads the swarm through. */
  public readonly apiProxy: docker.Service;
  /** Name of the certificate resolver routers should use (ACME mode only). */
  public readonly certResolver: string | undefined;
  public readonly scheme: "http" | "https";

  constructor(name: string, args: TraefikArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:proxy:Traefik", name, {}, opts);
    const { config, prefix, labels, provider } = args;
    const child = { parent: this, provider };
    this.networks = routedNetworks(name, args, child);
    this.network = this.networks[args.networkNames[0]];
    const api = new DockerApiProxy(
      `${name}-api`,
      { image: config.apiProxyImage, dockerSocket: config.dockerSocket, prefix, labels, provider },
      { parent: this },
    );
    this.apiProxy = api.service;
    const tls = tlsMaterial(name, args, child);
    this.certResolver = config.tls.mode === "acme" ? ACME_RESOLVER : undefined;
    this.scheme = config.tls.mode === "none" ? "http" : "https";
    this.service = new docker.Service(
      `${name}-service`,
      serviceArgs(args, Object.values(this.networks), api, tls),
      { ...child, dependsOn: [this.apiProxy, ...tls.dependsOn] },
    );
    this.registerOutputs({ networks: Object.keys(this.networks), service: this.service.name });
  }
}

/** The overlay networks Traefik routes on, by name; the first keeps the unnumbered resource name. */
function routedNetworks(
  name: string,
  args: TraefikArgs,
  opts: pulumi.CustomResourceOptions,
): Record<string, docker.Network> {
  if (args.networkNames.length === 0)
    throw new pulumi.InputPropertiesError({
      message: `Traefik ${name}: no network to route on`,
      errors: [{ propertyPath: "networkNames", reason: "is empty" }],
    });
  const networks: Record<string, docker.Network> = {};
  args.networkNames.forEach((n, i) => {
    networks[n] = new docker.Network(
      `${name}-network${i === 0 ? "" : `-${i}`}`,
      { name: n, driver: "overlay", attachable: true, labels: labelList(args.labels) },
      opts,
    );
  });
  return networks;
}

/** TLS as the mode asks: the certificate file's secrets with a dynamic config naming them, or ACME's volume. */
function tlsMaterial(name: string, args: TraefikArgs, opts: pulumi.CustomResourceOptions): TlsMaterial {
  const { prefix, labels } = args;
  const tls = args.config.tls;
  const none: TlsMaterial = { configs: [], secrets: [], mounts: [], dependsOn: [] };
  if (tls.mode === "acme") {
    const volume = new docker.Volume(
      `${name}-acme`,
      { name: `${prefix}_traefik_acme`, labels: labelList(labels) },
      opts,
    );
    return {
      ...none,
      mounts: [{ type: "volume", source: volume.name, target: "/data" }],
      dependsOn: [volume],
    };
  }
  if (tls.mode !== "file") return none;
  const cert = readFileSync(tls.certFile, "utf8");
  const key = readFileSync(tls.keyFile, "utf8");
  const certSecret = fileSecret(
    `${name}-tls-cert`,
    prefixedName(prefix, `tls_cert_${contentHash(cert)}`, OBJECT_NAME_MAX),
    cert,
    labels,
    opts,
  );
  const keySecret = fileSecret(
    `${name}-tls-key`,
    prefixedName(prefix, `tls_key_${contentHash(key)}`, OBJECT_NAME_MAX),
    key,
    labels,
    opts,
  );
  const dynamic =
    "tls:\n  stores:\n    default:\n      defaultCertificate:\n        certFile: /run/secrets/tls.crt\n        keyFile: /run/secrets/tls.key\n";
  const dyn = new docker.ServiceConfig(
    `${name}-dynamic`,
    {
      name: prefixedName(prefix, `traefik_dynamic_${contentHash(dynamic)}`, OBJECT_NAME_MAX),
      data: Buffer.from(dynamic).toString("base64"),
      labels: labelList(labels),
    },
    { ...opts, ...CREATE_BEFORE_DELETE },
  );
  return {
    ...none,
    configs: [{ configId: dyn.id, configName: dyn.name, fileName: "/etc/traefik/dynamic.yml" }],
    secrets: [
      { secretId: certSecret.id, secretName: certSecret.name, fileName: "tls.crt" },
      { secretId: keySecret.id, secretName: keySecret.name, fileName: "tls.key", fileMode: 0o400 },
    ],
  };
}

/** Traefik's service: on its routed networks and the API proxy's, its entrypoints published in host mode. */
function serviceArgs(
  args: TraefikArgs,
  networks: docker.Network[],
  api: DockerApiProxy,
  tls: TlsMaterial,
): docker.ServiceArgs {
  const { config } = args;
  const labels = labelList(args.labels);
  const port = (targetPort: number, publishedPort: number, entrypoint: string) => ({
    targetPort,
    publishedPort,
    publishMode: "host",
    protocol: "tcp",
    name: entrypoint,
  });
  return {
    name: `${args.prefix}_traefik`,
    labels,
    mode: { replicated: { replicas: 1 } },
    taskSpec: {
      containerSpec: {
        image: config.image,
        args: traefikArgs(config, args.networkNames[0], api.endpoint, args.constraintLabels),
        labels,
        mounts: tls.mounts,
        configs: tls.configs,
        secrets: tls.secrets,
        healthcheck: {
          // The healthcheck runs a second traefik, which reads its static configuration from
          // flags alone: it must be told where the ping entrypoint is.
          tests: ["CMD", "traefik", "healthcheck", ...PING],
          ...healthTiming(args.healthcheckSeconds ?? 5, 50),
          timeout: "3s",
          startPeriod: "5s",
        },
      },
      networksAdvanceds: [...networks.map((n) => ({ id: n.id })), { id: api.network.id }],
      placement: { constraints: ["node.role==manager", ...config.placement] },
      resources: taskResources(config.resources),
      restartPolicy: restartPolicy({ condition: "any", delay: "2s" }),
    },
    endpointSpec: {
      mode: "dnsrr",
      ports: [port(80, config.httpPort, ENTRYPOINTS.web), port(443, config.httpsPort, ENTRYPOINTS.webSecure)],
    },
    updateConfig: { order: "stop-first", failureAction: "rollback" },
    convergeConfig: CONVERGE,
  };
}

/** Traefik's static configuration as command-line arguments (no config file to keep in sync). */
export function traefikArgs(
  config: TraefikConfig,
  network: string,
  endpoint: string,
  constraintLabels?: Record<string, string>,
): string[] {
  const a = [
    `--entrypoints.${ENTRYPOINTS.web}.address=:80`,
    `--entrypoints.${ENTRYPOINTS.webSecure}.address=:443`,
    `--entrypoints.${ENTRYPOINTS.webSecure}.http.tls=true`,
    "--providers.swarm=true",
    `--providers.swarm.endpoint=${endpoint}`,
    "--providers.swarm.exposedByDefault=false",
    `--providers.swarm.network=${network}`,
    // Runs come and go within a minute: notice new services in 2 s rather than the default 15 s.
    "--providers.swarm.refreshSeconds=2",
    ...PING,
    // No internet on many CI hosts; and nobody asked Traefik to phone home.
    "--global.checkNewVersion=false",
    "--global.sendAnonymousUsage=false",
    `--log.level=${config.logLevel}`,
    `--core.defaultRuleSyntax=${config.defaultRuleSyntax}`,
  ];
  if (constraintLabels && Object.keys(constraintLabels).length > 0) {
    const expr = Object.entries(constraintLabels)
      .map(([k, v]) => `Label(\`${k}\`,\`${v}\`)`)
      .join(" && ");
    a.push(`--providers.swarm.constraints=${expr}`);
  }
  const tls = config.tls;
  if (tls.mode === "file") a.push("--providers.file.filename=/etc/traefik/dynamic.yml");
  if (tls.mode === "acme") {
    const r = `--certificatesresolvers.${ACME_RESOLVER}.acme`;
    a.push(`${r}.email=${tls.email}`, `${r}.storage=/data/acme.json`, `${r}.caserver=${tls.caServer}`);
    a.push(
      tls.challenge === "tls" ? `${r}.tlschallenge=true` : `${r}.httpchallenge.entrypoint=${ENTRYPOINTS.web}`,
    );
  }
  return a;
}

function fileSecret(
  name: string,
  dockerName: string,
  content: string,
  labels: Record<string, string>,
  opts: pulumi.CustomResourceOptions,
) {
  return new docker.Secret(
    name,
    {
      name: dockerName,
      data: pulumi.secret(Buffer.from(content).toString("base64")),
      labels: labelList(labels),
    },
    { ...opts, ...CREATE_BEFORE_DELETE },
  );
}
