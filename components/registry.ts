/**
 * The image registry worker nodes pull through: Docker's distribution registry as a plain container
 * on the manager (swarm cannot bind a port to one address), published on 127.0.0.1 for the CI host's
 * pushes and on the manager's private address for the workers' engines, which take it as their
 * registry mirror (scripts/env/nodes.sh). Either a registry the warm up seeds with the CI host's
 * images (hosts that build them, like this project's CI), or a pull-through cache of a remote
 * registry (hosts that reach Docker Hub). It takes pushes without authentication, so it is published
 * on no public address (the config refuses one) and on its own bridge, inter-container traffic off;
 * the host firewall keeps every container — a run's included — from the host's and the bridge's
 * addresses.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { RegistryConfig } from "../lib/config";
import { bytes } from "../lib/units";
import { NETWORK_NAME_MAX, prefixedName, SERVICE_NAME_MAX, VOLUME_NAME_MAX } from "../lib/naming";
import { labelList } from "./util";
import type { RegistryOutputs } from "../lib/contract";

export type { RegistryOutputs };

/** The registry's configuration file (the official image's, with a proxy section for a cache). */
export function registryConfigFile(config: RegistryConfig): string {
  return [
    "version: 0.1",
    "log:",
    "  level: info",
    "  fields:",
    "    service: registry",
    "storage:",
    "  cache:",
    "    blobdescriptor: inmemory",
    "  filesystem:",
    "    rootdirectory: /var/lib/registry",
    // Garbage collection of a seeded registry needs its manifests deletable.
    "  delete:",
    "    enabled: true",
    "http:",
    "  addr: :5000",
    "  headers:",
    "    X-Content-Type-Options: [nosniff]",
    "health:",
    "  storagedriver:",
    "    enabled: true",
    "    interval: 10s",
    "    threshold: 3",
    ...(config.pullThrough ? ["proxy:", `  remoteurl: ${JSON.stringify(config.pullThrough)}`] : []),
    "",
  ].join("\n");
}

export interface ImageRegistryArgs {
  config: RegistryConfig;
  prefix: string;
  labels: Record<string, string>;
  provider: docker.Provider;
}

export class ImageRegistry extends pulumi.ComponentResource {
  public readonly container: docker.Container;
  public readonly outputs: pulumi.Output<RegistryOutputs>;

  constructor(name: string, args: ImageRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:warm:ImageRegistry", name, {}, opts);
    const { config, prefix, labels, provider } = args;
    if (config.address === undefined)
      throw new Error("registry.address is required when the registry is enabled");
    const o = { parent: this, provider };
    const volume = new docker.Volume(
      `${name}-data`,
      { name: prefixedName(prefix, "registry", VOLUME_NAME_MAX), labels: labelList(labels) },
      o,
    );
    const bridge = new docker.Network(
      `${name}-bridge`,
      {
        name: prefixedName(prefix, "registry", NETWORK_NAME_MAX),
        driver: "bridge",
        options: { "com.docker.network.bridge.enable_icc": "false" },
        labels: labelList(labels),
      },
      o,
    );
    const memory =
      config.resources.memoryLimit !== undefined
        ? Math.round(bytes(config.resources.memoryLimit) / 2 ** 20)
        : undefined;
    this.container = new docker.Container(
      name,
      {
        name: prefixedName(prefix, "registry", SERVICE_NAME_MAX),
        image: config.image,
        uploads: [{ file: "/etc/docker/registry/config.yml", content: registryConfigFile(config) }],
        ports: [
          { internal: 5000, external: config.port, ip: "127.0.0.1", protocol: "tcp" },
          { internal: 5000, external: config.port, ip: config.address, protocol: "tcp" },
        ],
        volumes: [{ volumeName: volume.name, containerPath: "/var/lib/registry" }],
        networksAdvanced: [{ name: bridge.name }],
        restart: "unless-stopped",
        labels: labelList(labels),
        ...(memory !== undefined ? { memory, memorySwap: memory } : {}),
      },
      // Its name and ports are fixed: the old one goes before the new one comes.
      { ...o, deleteBeforeReplace: true },
    );
    this.outputs = pulumi.all([this.container.name, volume.name]).apply(([container, vol]) => ({
      push: `127.0.0.1:${config.port}`,
      mirror: `http://${config.address}:${config.port}`,
      container,
      volume: vol,
      pullThrough: config.pullThrough !== undefined,
      seed: config.seed,
      diskBudgetBytes: bytes(config.diskBudget),
    }));
    this.registerOutputs({ outputs: this.outputs });
  }
}
