/**
 * The warm S3 server `s3` dependencies are served from: the Versity S3 Gateway on its POSIX backend
 * with its internal IAM, on a network of its own (only the runs' gateways join it), its root account
 * generated and kept as Pulumi secrets; its admin API on a port of its own (not the S3 port runs
 * reach), both reached by the CI host through gateways on 127.0.0.1.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { S3Config } from "../lib/config";
import type { S3Contract } from "../lib/contract";
import { S3_PORT, S3_REGION } from "../lib/deps/s3";
import { GeneratedSecret } from "../lib/generatedSecret";
import { prefixedName, SERVICE_NAME_MAX } from "../lib/naming";
import { adminGateway, warmServerPlace } from "./adminGateway";
import { dockerSecret } from "./keycloakDatabase";
import { CONVERGE, healthTiming, labelList, restartPolicy, taskResources } from "./util";
import { routerLabels, type RouterProxy } from "./keycloak";

export const S3_ADMIN_PORT = 7071;

/** versitygw with its root account from secret files (never in the service's environment). */
export function versitygwCommand(opts: { admin: boolean; buckets?: string[] }): string[] {
  const mk = (opts.buckets ?? []).map((b) => `/data/buckets/${b}`).join(" ");
  return [
    "/bin/bash",
    "-c",
    [
      `mkdir -p /data/iam /data/buckets${mk ? ` ${mk}` : ""}`,
      'ROOT_ACCESS_KEY="$(< /run/secrets/root_access)" ROOT_SECRET_KEY="$(< /run/secrets/root_secret)" exec versitygw' +
        ` --port :${S3_PORT}${opts.admin ? ` --admin-port :${S3_ADMIN_PORT}` : ""} --iam-dir /data/iam --health /health posix /data/buckets`,
    ].join(" && "),
  ];
}

/** Its health endpoint, with nothing but bash. */
export const VERSITYGW_HEALTHCHECK = [
  "CMD",
  "bash",
  "-c",
  `exec 3<>/dev/tcp/127.0.0.1/${S3_PORT} && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && read -r s <&3 && [[ $s == *' 200 '* ]]`,
];

/**
 * versitygw's container, warm or cold: its root account from two Docker secrets, its data on a
 * volume, its health endpoint checked every `interval`.
 */
export function versitygwContainer(c: {
  image: string;
  admin: boolean;
  buckets?: string[];
  volume: pulumi.Input<string>;
  access: docker.Secret;
  secret: docker.Secret;
  labels: Record<string, string>;
  /** Seconds between healthchecks; unhealthy after about a minute of failures (two for the warm one). */
  healthcheckSeconds: number;
  /** None for a run's own server (components/runS3.ts says why). */
  stopGracePeriod?: string;
}): docker.types.input.ServiceTaskSpecContainerSpec {
  const file = (s: docker.Secret, fileName: string) => ({
    secretId: s.id,
    secretName: s.name,
    fileName,
    fileMode: 0o400,
  });
  return {
    image: c.image,
    commands: versitygwCommand({ admin: c.admin, buckets: c.buckets }),
    labels: labelList(c.labels),
    mounts: [{ type: "volume", source: c.volume, target: "/data" }],
    secrets: [file(c.access, "root_access"), file(c.secret, "root_secret")],
    healthcheck: {
      tests: VERSITYGW_HEALTHCHECK,
      ...healthTiming(c.healthcheckSeconds, c.admin ? 120 : 60),
      timeout: "3s",
      startPeriod: "30s",
    },
    ...(c.stopGracePeriod ? { stopGracePeriod: c.stopGracePeriod } : {}),
  };
}

/** Where the warm S3 server's API is routed: a network of the warm Traefik's own, a host, a URL. */
export interface S3Route {
  /** The warm Traefik's private network (Keycloak's too; no run joins it). */
  network: { name: pulumi.Input<string>; id: pulumi.Input<string> };
  /** <hostname>.<domain>, and its URL as the proxy serves it. */
  host: string;
  url: string;
  proxy: RouterProxy;
}

/** The routers of an S3 server's API on the proxy (only its S3 port: the admin API is never routed). */
export function s3RouterLabels(router: string, host: string, network: string, proxy: RouterProxy) {
  return {
    ...routerLabels(router, `Host(\`${host}\`)`, S3_PORT, proxy),
    "traefik.swarm.network": network,
  };
}

export class WarmS3 extends pulumi.ComponentResource {
  public readonly service: docker.Service;
  public readonly network: docker.Network;
  public readonly contract: pulumi.Output<S3Contract>;

  constructor(
    name: string,
    args: {
      config: S3Config;
      prefix: string;
      labels: Record<string, string>;
      provider: docker.Provider;
      /** Where the warm Traefik routes its S3 API. */
      route: S3Route;
      /** Seconds between healthchecks. Default: 2. */
      healthcheckSeconds?: number;
    },
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("cc-ci:deps:WarmS3", name, {}, opts);
    const { config, prefix, labels, provider, route } = args;
    const child = { parent: this, provider };
    const access = new GeneratedSecret(`${name}-root-access`, { length: 20 }, { parent: this });
    const secret = new GeneratedSecret(`${name}-root-secret`, { length: 40 }, { parent: this });
    const accessSecret = dockerSecret(
      `${name}-access-secret`,
      prefix,
      "s3_root_access",
      access.value,
      labels,
      child,
    );
    const secretSecret = dockerSecret(
      `${name}-secret-secret`,
      prefix,
      "s3_root_secret",
      secret.value,
      labels,
      child,
    );
    const place = warmServerPlace(name, "s3", prefix, labels, child);
    this.network = place.network;
    const data = place.data;
    const serviceName = prefixedName(prefix, "s3", SERVICE_NAME_MAX);
    this.service = new docker.Service(
      `${name}-service`,
      {
        name: serviceName,
        labels: pulumi
          .output(route.network.name)
          .apply((net) =>
            labelList({ ...s3RouterLabels(`${prefix}-s3`, route.host, net, route.proxy), ...labels }),
          ),
        mode: { replicated: { replicas: 1 } },
        taskSpec: {
          containerSpec: versitygwContainer({
            image: config.image,
            admin: true,
            volume: data.name,
            access: accessSecret,
            secret: secretSecret,
            labels,
            healthcheckSeconds: args.healthcheckSeconds ?? 2,
            stopGracePeriod: "10s",
          }),
          // Its own network (the runs' gateways), and the warm Traefik's, which routes its S3 port only.
          networksAdvanceds: [{ id: this.network.id }, { id: route.network.id }],
          placement: { constraints: ["node.role==manager", ...config.placement] },
          resources: taskResources(config.resources),
          restartPolicy: restartPolicy({ condition: "any", delay: "3s" }),
        },
        endpointSpec: { mode: "dnsrr" },
        convergeConfig: CONVERGE,
      },
      child,
    );
    const gw = (key: string, port: number, target: number) =>
      adminGateway(`${name}-${key}-gateway`, {
        prefix,
        key,
        image: config.gatewayImage,
        port,
        target: `${serviceName}:${target}`,
        networkName: this.network.name,
        labels,
        opts: { ...child, dependsOn: [this.service] },
      });
    const adminGw = gw("s3_admin", config.adminPort, S3_ADMIN_PORT);
    const apiGw = gw("s3", config.apiPort, S3_PORT);
    this.contract = pulumi
      .all([access.value, secret.value, this.network.name, adminGw.id, apiGw.id])
      .apply(([a, s, network]) => ({
        admin: { endpoint: `http://127.0.0.1:${config.adminPort}`, access: a, secret: s },
        apiEndpoint: `http://127.0.0.1:${config.apiPort}`,
        publicEndpoint: route.url,
        region: S3_REGION,
        network,
        service: serviceName,
        gatewayImage: config.gatewayImage,
      }));
    this.registerOutputs({ service: serviceName });
  }
}
