/**
 * A run's `s3` dependency. Warm: the run's account (role `user`: only the buckets it owns) and its
 * buckets on the warm S3 server, made by the server's root account, and a TCP gateway in the run stack
 * — the only thing of the run on the server's network — at the dependency's host name. Cold: an S3
 * server of the run's own at that same host name, its buckets made at start, its root account the
 * run's access key. Either way the recipe gets an endpoint, a region, its buckets and a key pair.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { S3Config } from "../lib/config";
import type { S3Contract } from "../lib/contract";
import type { S3Plan } from "../lib/deps/plan";
import { depValues } from "../lib/deps/plan";
import { S3Unit } from "../lib/deps/resources";
import { S3_PORT, s3Admin } from "../lib/deps/s3";
import { GeneratedSecret } from "../lib/generatedSecret";
import { prefixedName, VOLUME_NAME_MAX } from "../lib/naming";
import { depGateway, depServiceBase, type DepServiceArgs } from "./depGateway";
import { dockerSecret } from "./keycloakDatabase";
import { labelList, restartPolicy, taskResources } from "./util";
import { s3RouterLabels, versitygwContainer } from "./warmS3";
import type { RouterProxy } from "./keycloak";

export interface RunS3Args extends DepServiceArgs {
  dep: S3Plan;
  /** Image and resources of a cold server. */
  config: S3Config;
  /** The run's proxy network, which a cold server joins to be routed at its public host. */
  proxy: { id: pulumi.Input<string>; name: string } & RouterProxy;
}

export class RunS3 extends pulumi.ComponentResource {
  public readonly values: Record<string, pulumi.Input<string>>;
  public readonly service: docker.Service;

  constructor(name: string, args: RunS3Args, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:deps:RunS3", name, {}, opts);
    const { dep } = args;
    const secret = new GeneratedSecret(`${name}-secret-key`, { length: 40 }, { parent: this });
    this.service =
      dep.mode === "warm" && dep.warm
        ? this.warmGateway(name, args, secret.value, dep.warm)
        : this.coldServer(name, args, secret.value);
    this.values = { ...depValues(dep), secretKey: pulumi.secret(secret.value) };
    this.registerOutputs({ service: this.service.name });
  }

  private warmGateway(
    name: string,
    args: RunS3Args,
    secret: pulumi.Output<string>,
    warm: S3Contract,
  ): docker.Service {
    const { dep } = args;
    const unit = new S3Unit(
      `${name}-unit`,
      {
        root: s3Admin(warm),
        unit: dep.unit,
        secret,
        buckets: dep.buckets,
      },
      { parent: this },
    );
    return depGateway(
      name,
      args,
      { image: warm.gatewayImage, network: warm.network, service: warm.service, port: S3_PORT },
      { parent: this, dependsOn: [unit] },
    );
  }

  private coldServer(name: string, args: RunS3Args, secret: pulumi.Output<string>): docker.Service {
    const { dep, prefix, labels, provider } = args;
    const child = { parent: this, provider };
    const accessSecret = dockerSecret(
      `${name}-access`,
      prefix,
      `dep_${dep.name}_ak`,
      pulumi.output(dep.unit),
      labels,
      child,
    );
    const secretSecret = dockerSecret(`${name}-secret`, prefix, `dep_${dep.name}_sk`, secret, labels, child);
    const data = new docker.Volume(
      `${name}-data`,
      { name: prefixedName(prefix, `dep_${dep.name}_data`, VOLUME_NAME_MAX), labels: labelList(labels) },
      child,
    );
    const base = depServiceBase(args);
    const { proxy } = args;
    // Routed at <name>.s3.<run domain> by the run's proxy (its S3 port only), as the warm one is at warm-s3.
    const routed = dep.publicHost
      ? s3RouterLabels(`${base.name.replace(/_/g, "-")}-s3`, dep.publicHost, proxy.name, proxy)
      : {};
    return new docker.Service(
      `${name}-server`,
      {
        ...base,
        labels: labelList({ ...routed, ...labels }),
        taskSpec: {
          containerSpec: versitygwContainer({
            image: args.config.image,
            admin: false,
            buckets: dep.buckets,
            volume: data.name,
            access: accessSecret,
            secret: secretSecret,
            labels,
            healthcheckSeconds: 1,
            // No stop grace period (Docker's default 10 s applies): with one, the provider's delete
            // waits until swarm has *removed* the container (seconds after it stopped), then fails if
            // that took longer; without, the service goes at once and the deletes of the run's network
            // and volume wait, polling, until the container has let go of them.
          }),
          networksAdvanceds: [
            { id: args.networkId, aliases: [dep.host] },
            ...(dep.publicHost ? [{ id: proxy.id }] : []),
          ],
          resources: taskResources(args.config.resources),
          restartPolicy: restartPolicy({ condition: "any", delay: "2s" }),
        },
      },
      child,
    );
  }
}
