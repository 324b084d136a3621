/**
 * Keycloak's PostgreSQL on the swarm: a generated password (a Pulumi secret, handed to the container
 * as a Docker secret that Keycloak mounts too), its data volume, and a private network that only the
 * database and Keycloak join.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { KeycloakConfig } from "../lib/config";
import { GeneratedSecret } from "../lib/generatedSecret";
import {
  contentHash,
  prefixedName,
  NETWORK_NAME_MAX,
  OBJECT_NAME_MAX,
  SERVICE_NAME_MAX,
  VOLUME_NAME_MAX,
} from "../lib/naming";
import {
  CONVERGE,
  healthTiming,
  CREATE_BEFORE_DELETE,
  restartPolicy,
  labelList,
  taskResources,
} from "./util";

export interface KeycloakDatabaseArgs {
  config: KeycloakConfig["database"];
  /** Prefix of every Docker name. */
  prefix: string;
  labels: Record<string, string>;
  provider: docker.Provider;
  /** Seconds between healthchecks. Default: 3. */
  healthcheckSeconds?: number;
}

/**
 * Named as the Keycloak it serves (a different type, so a different URN): its resources keep the
 * names they had as that component's own children.
 */
export class KeycloakDatabase extends pulumi.ComponentResource {
  /** The service's name: the database's host on the private network. */
  public readonly host: string;
  public readonly service: docker.Service;
  /** The private network; Keycloak joins it to reach the database. */
  public readonly network: docker.Network;
  /** The password as the file /run/secrets/db_password: the database reads it, and so does Keycloak. */
  public readonly passwordFile: docker.types.input.ServiceTaskSpecContainerSpecSecret;

  constructor(name: string, args: KeycloakDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:identity:KeycloakDatabase", name, {}, opts);
    const { config: db, prefix, labels, provider } = args;
    // These were the Keycloak component's own children before the database was a component: the
    // alias keeps their URNs, so deployed stacks see no replacement.
    const aliases = [{ parent: opts?.parent }];
    const child = { parent: this, provider, aliases };

    const password = new GeneratedSecret(`${name}-db-password`, { length: 32 }, { parent: this, aliases });
    const secret = dockerSecret(`${name}-db-secret`, prefix, "kc_db_password", password.value, labels, child);
    this.passwordFile = {
      secretId: secret.id,
      secretName: secret.name,
      fileName: "db_password",
      fileMode: 0o444,
    };
    this.network = new docker.Network(
      `${name}-internal`,
      {
        name: prefixedName(prefix, "keycloak_internal", NETWORK_NAME_MAX),
        driver: "overlay",
        internal: true,
        labels: labelList(labels),
      },
      child,
    );
    const data = new docker.Volume(
      `${name}-db-data`,
      { name: prefixedName(prefix, "keycloak_db_data", VOLUME_NAME_MAX), labels: labelList(labels) },
      { ...child, retainOnDelete: false },
    );
    this.host = prefixedName(prefix, "keycloak_db", SERVICE_NAME_MAX);
    this.service = new docker.Service(
      `${name}-db`,
      {
        name: this.host,
        labels: labelList(labels),
        mode: { replicated: { replicas: 1 } },
        taskSpec: {
          containerSpec: {
            image: db.image,
            env: {
              POSTGRES_DB: db.name,
              POSTGRES_USER: db.user,
              POSTGRES_PASSWORD_FILE: "/run/secrets/db_password",
            },
            labels: labelList(labels),
            mounts: [{ type: "volume", source: data.name, target: "/var/lib/postgresql/data" }],
            secrets: [this.passwordFile],
            healthcheck: {
              tests: ["CMD-SHELL", `pg_isready -U ${db.user} -d ${db.name}`],
              ...healthTiming(args.healthcheckSeconds ?? 3, 60),
              timeout: "3s",
              startPeriod: "10s",
            },
            stopGracePeriod: "30s",
          },
          networksAdvanceds: [{ id: this.network.id, aliases: ["keycloak-db"] }],
          // On a manager, as Traefik: the database's volume lives on the node that made it, and images
          // built on the host are there (a multi-node swarm's workers are for runs).
          placement: { constraints: ["node.role==manager", ...db.placement] },
          resources: taskResources(db.resources),
          restartPolicy: restartPolicy({ condition: "any", delay: "3s" }),
        },
        endpointSpec: { mode: "dnsrr" },
        convergeConfig: CONVERGE,
      },
      child,
    );
    this.registerOutputs({ host: this.host });
  }
}

/** A Docker secret named after its content, so a new value is a new secret created before the old goes. */
export function dockerSecret(
  name: string,
  prefix: string,
  key: string,
  value: pulumi.Output<string>,
  labels: Record<string, string>,
  opts: pulumi.CustomResourceOptions,
): docker.Secret {
  return new docker.Secret(
    name,
    {
      // The hash reveals nothing of the value; keeping the name out of secrecy keeps it readable.
      name: pulumi.unsecret(
        value.apply((v) => prefixedName(prefix, `${key}_${contentHash(v)}`, OBJECT_NAME_MAX)),
      ),
      data: pulumi.secret(value.apply((v) => Buffer.from(v).toString("base64"))),
      labels: labelList(labels),
    },
    { ...opts, ...CREATE_BEFORE_DELETE },
  );
}
