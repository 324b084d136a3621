/**
 * A run's `postgres` dependency. Warm: the run's unit (a database and the role that owns it) on the warm
 * PostgreSQL, made by the provisioning role, and a TCP gateway in the run stack — the only thing of the
 * run on the warm server's network — that the recipe's services reach at the dependency's host name.
 * Cold: a PostgreSQL of the run's own at that same host name, with the same database, role and
 * extensions. Either way the recipe sees the same values; the password is generated per run.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { PostgresConfig } from "../lib/config";
import type { PostgresContract } from "../lib/contract";
import { POSTGRES_PORT, type PostgresPlan } from "../lib/deps/plan";
import { PostgresUnit } from "../lib/deps/resources";
import { GeneratedSecret } from "../lib/generatedSecret";
import { contentHash, OBJECT_NAME_MAX, prefixedName, VOLUME_NAME_MAX } from "../lib/naming";
import { depGateway, depServiceBase, type DepServiceArgs } from "./depGateway";
import { dockerSecret } from "./keycloakDatabase";
import { CREATE_BEFORE_DELETE, labelList, restartPolicy, taskResources } from "./util";

export interface RunPostgresArgs extends DepServiceArgs {
  dep: PostgresPlan;
  runId: string;
  owner?: string;
  /** Images and resources of a cold server, the gateway's image in warm mode comes from the warm layer. */
  config: PostgresConfig;
}

export class RunPostgres extends pulumi.ComponentResource {
  /** The values the recipe gets, by the kind's field names (lib/deps/kinds.ts); secret ones secret. */
  public readonly values: Record<string, pulumi.Input<string>>;
  public readonly service: docker.Service;

  constructor(name: string, args: RunPostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:deps:RunPostgres", name, {}, opts);
    const { dep } = args;
    const password = new GeneratedSecret(`${name}-password`, { length: 32 }, { parent: this });
    this.service =
      dep.mode === "warm" && dep.warm
        ? this.warmGateway(name, args, password.value, dep.warm)
        : this.coldServer(name, args, password.value);
    const pw = pulumi.secret(password.value);
    this.values = {
      host: dep.host,
      port: String(POSTGRES_PORT),
      database: dep.unit,
      user: dep.unit,
      password: pw,
      url: pulumi.secret(
        pw.apply((p) => `postgres://${dep.unit}:${p}@${dep.host}:${POSTGRES_PORT}/${dep.unit}`),
      ),
    };
    this.registerOutputs({ service: this.service.name });
  }

  /** Warm: the run's unit on the warm server, and the run's gateway to it at the dependency's host. */
  private warmGateway(
    name: string,
    args: RunPostgresArgs,
    password: pulumi.Output<string>,
    warm: PostgresContract,
  ): docker.Service {
    const { dep } = args;
    const unit = new PostgresUnit(
      `${name}-unit`,
      {
        provisioner: {
          host: warm.adminHost,
          port: warm.adminPort,
          user: warm.provisioning.user,
          password: warm.provisioning.password,
        },
        unit: dep.unit,
        password,
        note: { run: args.runId, ...(args.owner ? { owner: args.owner } : {}) },
        extensions: dep.extensions,
      },
      { parent: this },
    );
    return depGateway(
      name,
      args,
      { image: warm.gatewayImage, network: warm.network, service: warm.service, port: POSTGRES_PORT },
      { parent: this, dependsOn: [unit] },
    );
  }

  /** Cold: a server of the run's own, with the same unit in it. */
  private coldServer(name: string, args: RunPostgresArgs, password: pulumi.Output<string>): docker.Service {
    const { dep, prefix, labels, provider } = args;
    const child = { parent: this, provider };
    const superPassword = new GeneratedSecret(`${name}-superuser-password`, { length: 32 }, { parent: this });
    const secret = dockerSecret(`${name}-secret`, prefix, `dep_${dep.name}_pw`, password, labels, child);
    const superSecret = dockerSecret(
      `${name}-superuser-secret`,
      prefix,
      `dep_${dep.name}_su`,
      superPassword.value,
      labels,
      child,
    );
    const data = new docker.Volume(
      `${name}-data`,
      { name: prefixedName(prefix, `dep_${dep.name}_data`, VOLUME_NAME_MAX), labels: labelList(labels) },
      child,
    );
    const init = coldUnitScript();
    const initCfg = new docker.ServiceConfig(
      `${name}-init`,
      {
        name: prefixedName(prefix, `dep_${dep.name}_init_${contentHash(init)}`, OBJECT_NAME_MAX),
        data: Buffer.from(init).toString("base64"),
        labels: labelList(labels),
      },
      { ...child, ...CREATE_BEFORE_DELETE },
    );
    return new docker.Service(
      `${name}-server`,
      {
        ...depServiceBase(args),
        taskSpec: {
          containerSpec: {
            image: args.config.image,
            env: {
              POSTGRES_PASSWORD_FILE: "/run/secrets/superuser_password",
              CCCI_UNIT: dep.unit,
              CCCI_EXTENSIONS: dep.extensions.join(" "),
            },
            labels: labelList(labels),
            mounts: [{ type: "volume", source: data.name, target: "/var/lib/postgresql/data" }],
            secrets: [
              { secretId: secret.id, secretName: secret.name, fileName: "password", fileMode: 0o444 },
              {
                secretId: superSecret.id,
                secretName: superSecret.name,
                fileName: "superuser_password",
                fileMode: 0o444,
              },
            ],
            configs: [
              {
                configId: initCfg.id,
                configName: initCfg.name,
                fileName: "/docker-entrypoint-initdb.d/ccci-unit.sh",
                fileMode: 0o444,
              },
            ],
            healthcheck: {
              tests: ["CMD-SHELL", `pg_isready -U ${dep.unit} -d ${dep.unit}`],
              interval: "1s",
              timeout: "3s",
              retries: 60,
              startPeriod: "60s",
            },
            // No stop grace period (Docker's default 10 s applies): with one, the provider's delete
            // waits until swarm has *removed* the container (seconds after it stopped), then fails if
            // that took longer; without, the service goes at once and the deletes of the run's network
            // and volume wait, polling, until the container has let go of them.
            // Fast shutdown, as the official image's STOPSIGNAL: nothing of a run is worth waiting for.
            stopSignal: "SIGINT",
          },
          networksAdvanceds: [{ id: args.networkId, aliases: [dep.host] }],
          resources: taskResources(args.config.resources),
          restartPolicy: restartPolicy({ condition: "any", delay: "2s" }),
        },
      },
      child,
    );
  }
}

/**
 * The cold server's first start: the unit as on the warm server — a role that owns its database and
 * can connect to no other, the extensions the recipe asked for — while the superuser's password stays
 * in the server's own secret. Sourced by the image's entrypoint, with the server on its socket only.
 */
export function coldUnitScript(): string {
  return `# cc-ci: the run's unit on its own PostgreSQL (components/runPostgres.ts)
psql -v ON_ERROR_STOP=1 -X -q --username postgres --dbname postgres -v unit="$CCCI_UNIT" <<'SQL'
\\set pw \`cat /run/secrets/password\`
CREATE ROLE :"unit" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'pw';
CREATE DATABASE :"unit" OWNER :"unit";
REVOKE ALL ON DATABASE :"unit" FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE template1 FROM PUBLIC;
SQL
for ext in $CCCI_EXTENSIONS; do
  # As the unit's role, as on the warm server: trusted extensions only, the same result warm or cold.
  psql -v ON_ERROR_STOP=1 -X -q --username postgres --dbname "$CCCI_UNIT" -v unit="$CCCI_UNIT" -v ext="$ext" <<<'SET ROLE :"unit"; CREATE EXTENSION IF NOT EXISTS :"ext";'
done
`;
}
