/**
 * The warm PostgreSQL `postgres` dependencies are served from: one server on a network of its own
 * (only the runs' gateways join it, never a recipe's service), its superuser and provisioning passwords
 * generated and kept as Pulumi secrets, the CI host's way in through an admin gateway on 127.0.0.1,
 * and the provisioning role (lib/deps/postgres.ts) applied on every `up`.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { PostgresConfig } from "../lib/config";
import type { PostgresContract } from "../lib/contract";
import { PROVISIONER } from "../lib/deps/postgres";
import { PostgresBootstrap } from "../lib/deps/resources";
import { GeneratedSecret } from "../lib/generatedSecret";
import { prefixedName, SERVICE_NAME_MAX } from "../lib/naming";
import { adminGateway, warmServerPlace } from "./adminGateway";
import { dockerSecret } from "./keycloakDatabase";
import { CONVERGE, healthTiming, labelList, restartPolicy, taskResources } from "./util";

export interface WarmPostgresArgs {
  config: PostgresConfig;
  prefix: string;
  labels: Record<string, string>;
  provider: docker.Provider;
  /** Seconds between healthchecks. Default: 3. */
  healthcheckSeconds?: number;
}

export class WarmPostgres extends pulumi.ComponentResource {
  public readonly service: docker.Service;
  public readonly network: docker.Network;
  /** What run stacks read (secret: the provisioning password). */
  public readonly contract: pulumi.Output<PostgresContract>;

  constructor(name: string, args: WarmPostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:deps:WarmPostgres", name, {}, opts);
    const { config, prefix, labels, provider } = args;
    const child = { parent: this, provider };
    const superPassword = new GeneratedSecret(`${name}-superuser-password`, { length: 32 }, { parent: this });
    const provPassword = new GeneratedSecret(
      `${name}-provisioner-password`,
      { length: 32 },
      { parent: this },
    );
    const secret = dockerSecret(`${name}-secret`, prefix, "pg_superuser", superPassword.value, labels, child);
    const place = warmServerPlace(name, "postgres", prefix, labels, child);
    this.network = place.network;
    const data = place.data;
    const serviceName = prefixedName(prefix, "postgres", SERVICE_NAME_MAX);
    this.service = new docker.Service(
      `${name}-service`,
      {
        name: serviceName,
        labels: labelList(labels),
        mode: { replicated: { replicas: 1 } },
        taskSpec: {
          containerSpec: {
            image: config.image,
            env: { POSTGRES_PASSWORD_FILE: "/run/secrets/superuser_password" },
            labels: labelList(labels),
            mounts: [{ type: "volume", source: data.name, target: "/var/lib/postgresql/data" }],
            secrets: [
              {
                secretId: secret.id,
                secretName: secret.name,
                fileName: "superuser_password",
                fileMode: 0o444,
              },
            ],
            healthcheck: {
              tests: ["CMD-SHELL", "pg_isready -U postgres"],
              ...healthTiming(args.healthcheckSeconds ?? 3, 60),
              timeout: "3s",
              startPeriod: "10s",
            },
            stopGracePeriod: "30s",
          },
          networksAdvanceds: [{ id: this.network.id }],
          placement: { constraints: ["node.role==manager", ...config.placement] },
          resources: taskResources(config.resources),
          restartPolicy: restartPolicy({ condition: "any", delay: "3s" }),
        },
        endpointSpec: { mode: "dnsrr" },
        convergeConfig: CONVERGE,
      },
      child,
    );
    const gateway = adminGateway(`${name}-admin-gateway`, {
      prefix,
      key: "postgres",
      image: config.gatewayImage,
      port: config.adminPort,
      target: `${serviceName}:5432`,
      networkName: this.network.name,
      labels,
      opts: { ...child, dependsOn: [this.service] },
    });
    const adminHost = "127.0.0.1";
    const boot = new PostgresBootstrap(
      `${name}-bootstrap`,
      {
        superuser: pulumi
          .secret(superPassword.value)
          .apply((password) => ({ host: adminHost, port: config.adminPort, user: "postgres", password })),
        provisionerPassword: provPassword.value,
      },
      { parent: this, dependsOn: [gateway, this.service] },
    );
    this.contract = pulumi
      .all([provPassword.value, this.network.name, boot.id])
      .apply(([password, network]) => ({
        adminHost,
        adminPort: config.adminPort,
        provisioning: { user: PROVISIONER, password },
        network,
        service: serviceName,
        image: config.image,
        gatewayImage: config.gatewayImage,
      }));
    this.registerOutputs({ service: serviceName });
  }
}
