/**
 * The warm layer: Traefik and Keycloak (with its database), left running between CI runs, and the
 * outputs run stacks read through a StackReference (the contract in lib/contract.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import type * as docker from "@pulumi/docker";
import type { WarmConfig } from "../lib/config";
import { CONTRACT_VERSION, type WarmOutputs } from "../lib/contract";
import { LABELS, NETWORK_NAME_MAX, prefixedName, warmPrefix, WARM_STACK } from "../lib/naming";
import { Keycloak } from "./keycloak";
import { ImageRegistry, type RegistryOutputs } from "./registry";
import { ENTRYPOINTS, Traefik } from "./traefik";
import { WarmPostgres } from "./warmPostgres";
import { WarmS3 } from "./warmS3";
import { publicUrl } from "../lib/units";

/** The names of the warm proxy's slot networks: `<base>_0` … `<base>_<n-1>`. */
export function slotNetworks(base: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${base}_${i}`);
}

export interface WarmLayerArgs {
  config: WarmConfig;
  /** Prefix of every Docker name; two warm layers on one swarm need different ones. Default: ccci_warm. */
  prefix?: string;
  provider: docker.Provider;
}

export class WarmLayer extends pulumi.ComponentResource {
  public readonly traefik: Traefik;
  /** Absent when the warm layer has no Keycloak (keycloak.enabled: false). */
  public readonly keycloak?: Keycloak;
  /** Absent unless registry.enabled. */
  public readonly registry?: ImageRegistry;
  /** Absent unless postgres.enabled. */
  public readonly postgres?: WarmPostgres;
  /** Absent unless s3.enabled. */
  public readonly s3?: WarmS3;
  /** What run stacks read; see WarmOutputs. The Keycloak part (with the provisioning secret) is secret. */
  public readonly outputs: {
    contractVersion: WarmOutputs["contractVersion"];
    proxy: WarmOutputs["proxy"];
    keycloak?: pulumi.Output<NonNullable<WarmOutputs["keycloak"]>>;
    /** The warm dependencies (secret: provisioning passwords). */
    deps?: pulumi.Output<NonNullable<WarmOutputs["deps"]>>;
    /** Not part of the run contract: for `cc-ci warm up` (seeding) and audits (its disk budget). */
    registry?: pulumi.Output<RegistryOutputs>;
  };

  constructor(name: string, args: WarmLayerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:warm:WarmLayer", name, {}, opts);
    const { config, provider } = args;
    const healthcheckSeconds = config.healthcheckSeconds;
    const prefix = args.prefix ?? warmPrefix(WARM_STACK);
    const labels = { [LABELS.layer]: "warm", [LABELS.stackNamespace]: prefix };

    // Keycloak's network with Traefik (no run joins it), and one slot network per concurrent run.
    const edge = prefixedName(prefix, "edge", NETWORK_NAME_MAX);
    const slots = slotNetworks(config.proxyNetwork, config.slots);
    this.traefik = new Traefik(
      `${name}-traefik`,
      {
        config: config.traefik,
        prefix,
        networkNames: [edge, ...slots],
        labels,
        provider,
        healthcheckSeconds,
      },
      { parent: this },
    );
    const proxy = {
      domain: config.domain,
      networks: slots,
      entrypoints: { web: ENTRYPOINTS.web, webSecure: ENTRYPOINTS.webSecure },
      scheme: this.traefik.scheme,
      httpPort: config.traefik.httpPort,
      httpsPort: config.traefik.httpsPort,
      defaultRuleSyntax: config.traefik.defaultRuleSyntax,
      ...(this.traefik.certResolver ? { certResolver: this.traefik.certResolver } : {}),
    };
    if (config.registry.enabled)
      this.registry = new ImageRegistry(
        `${name}-registry`,
        { config: config.registry, prefix, labels, provider },
        { parent: this },
      );
    const registry = this.registry ? { registry: this.registry.outputs } : {};
    if (config.postgres.enabled)
      this.postgres = new WarmPostgres(
        `${name}-postgres`,
        { config: config.postgres, prefix, labels, provider, healthcheckSeconds },
        { parent: this },
      );
    if (config.s3.enabled) {
      const host = `${config.s3.hostname}.${config.domain}`;
      const route = {
        network: this.traefik.networks[edge],
        host,
        url: publicUrl(proxy.scheme, host, proxy.httpPort, proxy.httpsPort),
        proxy,
      };
      this.s3 = new WarmS3(
        `${name}-s3`,
        { config: config.s3, prefix, labels, provider, route, healthcheckSeconds },
        { parent: this },
      );
    }
    const deps = this.depsOutputs();
    if (!config.keycloak.enabled) {
      // A warm Traefik alone: runs that want SSO bring a cold Keycloak.
      this.outputs = { contractVersion: CONTRACT_VERSION, proxy, ...registry, ...deps };
      this.registerOutputs({ outputs: this.outputs });
      return;
    }
    const keycloak = new Keycloak(
      `${name}-keycloak`,
      {
        config: config.keycloak,
        prefix,
        host: `${config.keycloak.hostname}.${config.domain}`,
        proxy: {
          ...proxy,
          network: this.traefik.networks[edge].name,
          networkId: this.traefik.networks[edge].id,
        },
        routerName: `${prefix}-keycloak`,
        labels,
        healthcheckSeconds,
        provider,
      },
      { parent: this },
    );
    this.keycloak = keycloak;
    // Only the Keycloak part carries a secret; the rest stays readable in `pulumi stack output`.
    this.outputs = {
      contractVersion: CONTRACT_VERSION,
      proxy,
      ...registry,
      ...deps,
      keycloak: pulumi
        .all([keycloak.provisioningClientId, keycloak.provisioningClientSecret, keycloak.service.name])
        .apply(([clientId, clientSecret, service]) => ({
          publicUrl: keycloak.publicUrl,
          adminUrl: keycloak.adminUrl,
          provisioning: { realm: "master", clientId, clientSecret },
          service,
          realmPool: config.keycloak.realmPool,
        })),
    };
    this.registerOutputs({ outputs: this.outputs });
  }

  /** The warm dependencies' part of the outputs (secret: provisioning credentials); none without any. */
  private depsOutputs(): { deps?: pulumi.Output<NonNullable<WarmOutputs["deps"]>> } {
    if (!this.postgres && !this.s3) return {};
    return {
      deps: pulumi.secret(
        pulumi.all([this.postgres?.contract, this.s3?.contract]).apply(([postgres, s3]) => ({
          ...(postgres ? { postgres } : {}),
          ...(s3 ? { s3 } : {}),
        })),
      ),
    };
  }
}
