/**
 * The warm layer: Traefik and Keycloak (with its database), left running between CI runs, and the
 * outputs run stacks read through a StackReference (the contract in lib/contract.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type * as docker from "@pulumi/docker";
import type { WarmConfig } from "../lib/config";
import { CONTRACT_VERSION, type WarmOutputs } from "../lib/contract";
import { LABELS } from "../lib/naming";
import { Keycloak } from "./keycloak";
import { ENTRYPOINTS, Traefik } from "./traefik";

/** Prefix of the warm layer's Docker objects. */
export const WARM_PREFIX = "ccci_warm";

export interface WarmLayerArgs {
  config: WarmConfig;
  provider: docker.Provider;
}

export class WarmLayer extends pulumi.ComponentResource {
  public readonly traefik: Traefik;
  public readonly keycloak: Keycloak;
  /** What run stacks read; see WarmOutputs. The provisioning secret stays secret. */
  public readonly outputs: pulumi.Output<WarmOutputs>;

  constructor(name: string, args: WarmLayerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:warm:WarmLayer", name, {}, opts);
    const { config, provider } = args;
    const labels = { [LABELS.layer]: "warm", [LABELS.stackNamespace]: WARM_PREFIX };

    this.traefik = new Traefik(
      `${name}-traefik`,
      { config: config.traefik, prefix: WARM_PREFIX, networkName: config.proxyNetwork, labels, provider },
      { parent: this },
    );
    const proxy = {
      domain: config.domain,
      network: config.proxyNetwork,
      entrypoints: { web: ENTRYPOINTS.web, webSecure: ENTRYPOINTS.webSecure },
      scheme: this.traefik.scheme,
      httpPort: config.traefik.httpPort,
      httpsPort: config.traefik.httpsPort,
      ...(this.traefik.certResolver ? { certResolver: this.traefik.certResolver } : {}),
    };
    this.keycloak = new Keycloak(
      `${name}-keycloak`,
      {
        config: config.keycloak,
        prefix: WARM_PREFIX,
        host: `${config.keycloak.hostname}.${config.domain}`,
        proxy: { ...proxy, network: this.traefik.network.name },
        routerName: `${WARM_PREFIX}-keycloak`,
        labels,
        provider,
      },
      { parent: this },
    );
    this.outputs = pulumi
      .all([
        this.keycloak.provisioningClientId,
        this.keycloak.provisioningClientSecret,
        this.keycloak.service.name,
      ])
      .apply(([clientId, clientSecret, service]) => ({
        contractVersion: CONTRACT_VERSION as typeof CONTRACT_VERSION,
        proxy,
        keycloak: {
          publicUrl: this.keycloak.publicUrl,
          adminUrl: this.keycloak.adminUrl,
          provisioning: { realm: "master", clientId, clientSecret },
          service,
        },
      }));
    this.registerOutputs({ outputs: this.outputs });
  }
}
