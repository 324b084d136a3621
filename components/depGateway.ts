/**
 * What a run's dependencies share: the service's name and mode, and the run's gateway to a warm
 * server — a TCP forwarder (HAProxy) on the run's deps network at the dependency's host name and on
 * the warm server's network, the only thing of the run there, leading to one port of the server.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { contentHash, OBJECT_NAME_MAX, prefixedName, SERVICE_NAME_MAX } from "../lib/naming";
import { CONVERGE, CREATE_BEFORE_DELETE, haproxyConfig, labelList, restartPolicy } from "./util";

export interface DepServiceArgs {
  /** The dependency's name and the host it has on the run's deps network. */
  dep: { name: string; host: string };
  /** The run's Docker prefix. */
  prefix: string;
  /** The run's deps network (its id). */
  networkId: pulumi.Input<string>;
  labels: Record<string, string>;
  provider: docker.Provider;
  /** Wait for the service to be running (and healthy) before `up` goes on. */
  wait: boolean;
}

/** The dependency's service, gateway or cold server alike: `<prefix>_dep_<name>`, one task. */
export function depServiceBase(args: DepServiceArgs) {
  return {
    name: prefixedName(args.prefix, `dep_${args.dep.name}`, SERVICE_NAME_MAX),
    labels: labelList(args.labels),
    mode: { replicated: { replicas: 1 } },
    endpointSpec: { mode: "dnsrr" },
    ...(args.wait ? { convergeConfig: CONVERGE } : {}),
  };
}

export function depGateway(
  name: string,
  args: DepServiceArgs,
  to: { image: string; network: string; service: string; port: number },
  opts: { parent: pulumi.Resource; dependsOn: pulumi.Resource[] },
): docker.Service {
  const { dep, prefix, labels, provider } = args;
  const child = { parent: opts.parent, provider };
  const warmNet = docker.getNetworkOutput({ name: to.network }, child);
  const cfgText = haproxyConfig("tcp-forward.cfg");
  const cfg = new docker.ServiceConfig(
    `${name}-gateway-config`,
    {
      name: prefixedName(prefix, `dep_${dep.name}_gw_${contentHash(cfgText)}`, OBJECT_NAME_MAX),
      data: Buffer.from(cfgText).toString("base64"),
      labels: labelList(labels),
    },
    { ...child, ...CREATE_BEFORE_DELETE },
  );
  return new docker.Service(
    `${name}-gateway`,
    {
      ...depServiceBase(args),
      taskSpec: {
        containerSpec: {
          image: to.image,
          args: ["-f", "/usr/local/etc/haproxy/haproxy.cfg"],
          env: { LISTEN_PORT: String(to.port), TARGET: `${to.service}:${to.port}` },
          labels: labelList(labels),
          configs: [
            { configId: cfg.id, configName: cfg.name, fileName: "/usr/local/etc/haproxy/haproxy.cfg" },
          ],
        },
        networksAdvanceds: [{ id: args.networkId, aliases: [dep.host] }, { id: warmNet.id }],
        resources: { limits: { memoryBytes: 64 * 1024 * 1024 } },
        restartPolicy: restartPolicy({ condition: "any", delay: "2s" }),
      },
    },
    { ...child, dependsOn: opts.dependsOn },
  );
}
