/**
 * The read-only Docker API Traefik's swarm provider reads the swarm through, never the raw socket:
 * HAProxy on a manager, the socket mounted read-only, letting through the GETs the provider needs
 * (services, tasks, networks, nodes, version) and nothing else, on an internal network only Traefik
 * shares. It publishes nothing.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import {
  contentHash,
  prefixedName,
  NETWORK_NAME_MAX,
  OBJECT_NAME_MAX,
  SERVICE_NAME_MAX,
} from "../lib/naming";
import { CONVERGE, CREATE_BEFORE_DELETE, haproxyConfig, restartPolicy, labelList } from "./util";

/** The Docker API's port on its private network. */
const API_PORT = 2375;

export interface DockerApiProxyArgs {
  /** The HAProxy image. */
  image: string;
  /** Docker socket on the managers. */
  dockerSocket: string;
  /** Prefix of every Docker name (the stack's). */
  prefix: string;
  /** Labels on every Docker object. */
  labels: Record<string, string>;
  provider: docker.Provider;
}

export class DockerApiProxy extends pulumi.ComponentResource {
  /** The private network the proxy listens on; its one client attaches to it. */
  public readonly network: docker.Network;
  public readonly service: docker.Service;
  /** Where the API answers, for Traefik's swarm endpoint. */
  public readonly endpoint: string;

  constructor(name: string, args: DockerApiProxyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:proxy:DockerApiProxy", name, {}, opts);
    const { image, dockerSocket, prefix, provider } = args;
    const labels = labelList(args.labels);
    // These were the parent's own children before the proxy was a component: the alias keeps
    // their URNs, so deployed stacks see no replacement.
    const child = { parent: this, provider, aliases: [{ parent: opts?.parent }] };

    this.network = new docker.Network(
      `${name}-network`,
      {
        name: prefixedName(prefix, "docker_api", NETWORK_NAME_MAX),
        driver: "overlay",
        internal: true,
        labels,
      },
      child,
    );
    const configText = haproxyConfig("docker-api-readonly.cfg");
    const config = new docker.ServiceConfig(
      `${name}-config`,
      {
        name: prefixedName(prefix, `docker_api_cfg_${contentHash(configText)}`, OBJECT_NAME_MAX),
        data: Buffer.from(configText).toString("base64"),
        labels,
      },
      { ...child, ...CREATE_BEFORE_DELETE },
    );
    const serviceName = prefixedName(prefix, "docker_api", SERVICE_NAME_MAX);
    this.endpoint = `tcp://${serviceName}:${API_PORT}`;
    this.service = new docker.Service(
      name,
      {
        name: serviceName,
        labels,
        mode: { replicated: { replicas: 1 } },
        taskSpec: {
          containerSpec: {
            image,
            args: ["-f", "/usr/local/etc/haproxy/haproxy.cfg"],
            // The socket is root:docker 660; the proxy itself publishes nothing.
            user: "root",
            labels,
            mounts: [{ type: "bind", source: dockerSocket, target: "/var/run/docker.sock", readOnly: true }],
            configs: [
              {
                configId: config.id,
                configName: config.name,
                fileName: "/usr/local/etc/haproxy/haproxy.cfg",
              },
            ],
          },
          networksAdvanceds: [{ id: this.network.id }],
          placement: { constraints: ["node.role==manager"] },
          resources: { limits: { memoryBytes: 64 * 1024 * 1024 } },
          restartPolicy: restartPolicy({ condition: "any", delay: "2s" }),
        },
        endpointSpec: { mode: "dnsrr" },
        convergeConfig: CONVERGE,
      },
      child,
    );
    this.registerOutputs({ service: this.service.name });
  }
}
