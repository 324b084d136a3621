/**
 * What warm services share: the admin gateway (a port on 127.0.0.1 for the CI host, and for nothing
 * else), and a warm dependency's network and volume.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { LABELS, prefixedName, NETWORK_NAME_MAX, SERVICE_NAME_MAX, VOLUME_NAME_MAX } from "../lib/naming";
import { haproxyConfig, labelList } from "./util";

/**
 * The admin gateway: a plain container (swarm cannot bind a port to one address) that forwards
 * 127.0.0.1:<port> to a warm service's port (Keycloak's HTTP, PostgreSQL's). Its published port comes from a bridge of its own with
 * inter-container traffic off, so no container on the host — neither a run's nor a neighbour on that
 * bridge — can reach it; only the CI host's own processes can.
 */
export function adminGateway(
  name: string,
  a: {
    prefix: string;
    /** What it leads to: its bridge and container are <prefix>_<key>_gw. */
    key: string;
    image: string;
    port: number;
    target: string;
    networkName: pulumi.Input<string>;
    labels: Record<string, string>;
    opts: pulumi.CustomResourceOptions;
  },
): docker.Container {
  const bridge = new docker.Network(
    `${name}-bridge`,
    {
      name: prefixedName(a.prefix, `${a.key}_gw`, NETWORK_NAME_MAX),
      driver: "bridge",
      options: { "com.docker.network.bridge.enable_icc": "false" },
      labels: labelList(a.labels),
    },
    a.opts,
  );
  return new docker.Container(
    name,
    {
      name: prefixedName(a.prefix, `${a.key}_gw`, SERVICE_NAME_MAX),
      image: a.image,
      command: ["-f", "/usr/local/etc/haproxy/haproxy.cfg"],
      envs: ["LISTEN_PORT=8080", `TARGET=${a.target}`],
      uploads: [{ file: "/usr/local/etc/haproxy/haproxy.cfg", content: haproxyConfig("tcp-forward.cfg") }],
      ports: [{ internal: 8080, external: a.port, ip: "127.0.0.1", protocol: "tcp" }],
      // The bridge first (the published port comes from it), then the service's network.
      networksAdvanced: [{ name: bridge.name }, { name: a.networkName }],
      // Not restarted by Docker: when dockerd starts, it starts such containers before the swarm
      // serves its networks, the start fails ("network … not found") and leaves a stale swarm
      // attachment that keeps the network from ever being removed until dockerd restarts again
      // (moby/moby#31068; seen 3 of 3 times here). `cc-ci warm up` and scripts/env/setup.sh start
      // them once the swarm is up (labelled for that); a run names a stopped one.
      restart: "no",
      labels: labelList({ ...a.labels, [LABELS.gateway]: "true" }),
      memory: 64,
      // Docker gives a memory limit twice as much swap unless told; said here, so a refresh reads back what is declared.
      memorySwap: 64,
    },
    // Its name and port are fixed: the old one goes before the new one comes.
    { ...a.opts, deleteBeforeReplace: true },
  );
}

/**
 * A warm dependency's own network — internal, attachable: runs' gateways join it, nothing on it
 * reaches anything else — and its data volume, named `<prefix>_<key>` and `<prefix>_<key>_data`.
 */
export function warmServerPlace(
  name: string,
  key: string,
  prefix: string,
  labels: Record<string, string>,
  opts: pulumi.CustomResourceOptions,
): { network: docker.Network; data: docker.Volume } {
  const network = new docker.Network(
    `${name}-network`,
    {
      name: prefixedName(prefix, key, NETWORK_NAME_MAX),
      driver: "overlay",
      attachable: true,
      internal: true,
      labels: labelList(labels),
    },
    opts,
  );
  const data = new docker.Volume(
    `${name}-data`,
    { name: prefixedName(prefix, `${key}_data`, VOLUME_NAME_MAX), labels: labelList(labels) },
    opts,
  );
  return { network, data };
}
