/**
 * Traefik v3 on the swarm: the shared overlay network it routes on, entrypoints `web` and
 * `web-secure` published in host mode (the ingress routing mesh is not relied on), the swarm provider
 * with exposedByDefault off, and TLS from a wildcard certificate file or ACME.
 */
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { TraefikConfig } from "../lib/config";
import { contentHash, prefixedName, OBJECT_NAME_MAX } from "../lib/naming";
import { CONVERGE, restartPolicy, labelList, taskResources } from "./util";

export const ENTRYPOINTS = { web: "web", webSecure: "web-secure" } as const;
export const ACME_RESOLVER = "ccci-acme";

export interface TraefikArgs {
  /** Traefik's settings (image, ports, TLS, resources, placement). */
  config: TraefikConfig;
  /** Prefix of every Docker name (the stack's). */
  prefix: string;
  /** Name of the overlay network Traefik creates and routes on. */
  networkName: string;
  /** Labels on every Docker object. */
  labels: Record<string, string>;
  /** Only route services with these labels (a run's own Traefik routes only its run). Default: all. */
  constraintLabels?: Record<string, string>;
  provider: docker.Provider;
}

export class Traefik extends pulumi.ComponentResource {
  public readonly network: docker.Network;
  public readonly service: docker.Service;
  /** Name of the certificate resolver routers should use (ACME mode only). */
  public readonly certResolver: string | undefined;
  public readonly scheme: "http" | "https";

  constructor(name: string, args: TraefikArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:proxy:Traefik", name, {}, opts);
    const { config, prefix, labels, provider } = args;
    const child = { parent: this, provider };

    this.network = new docker.Network(
      `${name}-network`,
      {
        name: args.networkName,
        driver: "overlay",
        attachable: true,
        labels: labelList(labels),
      },
      child,
    );

    const cliArgs = traefikArgs(config, args.networkName, args.constraintLabels);
    const configs: docker.types.input.ServiceTaskSpecContainerSpecConfig[] = [];
    const secrets: docker.types.input.ServiceTaskSpecContainerSpecSecret[] = [];
    const mounts: docker.types.input.ServiceTaskSpecContainerSpecMount[] = [
      { type: "bind", source: config.dockerSocket, target: "/var/run/docker.sock", readOnly: true },
    ];
    const tls = config.tls;
    if (tls.mode === "file") {
      const cert = readFileSync(tls.certFile, "utf8");
      const key = readFileSync(tls.keyFile, "utf8");
      const certSecret = fileSecret(
        `${name}-tls-cert`,
        prefixedName(prefix, `tls_cert_${contentHash(cert)}`, OBJECT_NAME_MAX),
        cert,
        labels,
        child,
      );
      const keySecret = fileSecret(
        `${name}-tls-key`,
        prefixedName(prefix, `tls_key_${contentHash(key)}`, OBJECT_NAME_MAX),
        key,
        labels,
        child,
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
        child,
      );
      configs.push({ configId: dyn.id, configName: dyn.name, fileName: "/etc/traefik/dynamic.yml" });
      secrets.push({ secretId: certSecret.id, secretName: certSecret.name, fileName: "tls.crt" });
      secrets.push({
        secretId: keySecret.id,
        secretName: keySecret.name,
        fileName: "tls.key",
        fileMode: 0o400,
      });
    }
    let acmeVolume: docker.Volume | undefined;
    if (tls.mode === "acme") {
      acmeVolume = new docker.Volume(
        `${name}-acme`,
        { name: `${prefix}_traefik_acme`, labels: labelList(labels) },
        child,
      );
      mounts.push({ type: "volume", source: acmeVolume.name, target: "/data" });
    }
    this.certResolver = tls.mode === "acme" ? ACME_RESOLVER : undefined;
    this.scheme = tls.mode === "none" ? "http" : "https";

    this.service = new docker.Service(
      `${name}-service`,
      {
        name: `${prefix}_traefik`,
        labels: labelList(labels),
        mode: { replicated: { replicas: 1 } },
        taskSpec: {
          containerSpec: {
            image: config.image,
            args: cliArgs,
            labels: labelList(labels),
            mounts,
            configs,
            secrets,
            healthcheck: {
              tests: ["CMD", "traefik", "healthcheck", "--ping"],
              interval: "5s",
              timeout: "3s",
              retries: 10,
              startPeriod: "5s",
            },
          },
          networksAdvanceds: [{ id: this.network.id }],
          placement: { constraints: ["node.role==manager", ...config.placement] },
          resources: taskResources(config.resources),
          restartPolicy: restartPolicy({ condition: "any", delay: "2s" }),
        },
        endpointSpec: {
          mode: "dnsrr",
          ports: [
            {
              targetPort: 80,
              publishedPort: config.httpPort,
              publishMode: "host",
              protocol: "tcp",
              name: ENTRYPOINTS.web,
            },
            {
              targetPort: 443,
              publishedPort: config.httpsPort,
              publishMode: "host",
              protocol: "tcp",
              name: ENTRYPOINTS.webSecure,
            },
          ],
        },
        updateConfig: { order: "stop-first", failureAction: "rollback" },
        convergeConfig: CONVERGE,
      },
      { ...child, dependsOn: acmeVolume ? [acmeVolume] : [] },
    );
    this.registerOutputs({ network: this.network.name, service: this.service.name });
  }
}

/** Traefik's static configuration as command-line arguments (no config file to keep in sync). */
export function traefikArgs(
  config: TraefikConfig,
  network: string,
  constraintLabels?: Record<string, string>,
): string[] {
  const a = [
    `--entrypoints.${ENTRYPOINTS.web}.address=:80`,
    `--entrypoints.${ENTRYPOINTS.webSecure}.address=:443`,
    `--entrypoints.${ENTRYPOINTS.webSecure}.http.tls=true`,
    "--providers.swarm=true",
    "--providers.swarm.endpoint=unix:///var/run/docker.sock",
    "--providers.swarm.exposedByDefault=false",
    `--providers.swarm.network=${network}`,
    // Runs come and go within a minute: notice new services in 2 s rather than the default 15 s.
    "--providers.swarm.refreshSeconds=2",
    "--ping=true",
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
    opts,
  );
}
