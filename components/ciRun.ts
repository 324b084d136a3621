/**
 * One CI run: the proxy and Keycloak it uses (the warm layer's, or its own), its realm, and the
 * recipe's services wired with the realm's OIDC values before their single deploy.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as keycloak from "@pulumi/keycloak";
import type { RunConfig } from "../lib/config";
import type { RecipeModel } from "../lib/recipe/model";
import type { AdminIdentity } from "../lib/adoptedRealm";
import { deployTimeoutOf, keycloakUrl, RUN_SECRET_VARS, type RunPlan } from "../lib/runPlan";
import { LABELS } from "../lib/naming";
import { Keycloak } from "./keycloak";
import { RecipeApp } from "./recipeApp";
import { RunRealm } from "./runRealm";
import { Traefik } from "./traefik";

export interface CiRunArgs {
  plan: RunPlan;
  model: RecipeModel;
  config: RunConfig;
  provider: docker.Provider;
}

/** The run stack's outputs: what `cc-ci run` and the recipe's tests read. Secrets stay secret. */
export interface CiRunOutputs {
  runId: string;
  recipe: string;
  stackName: string;
  domain: string;
  appUrl: string;
  sso: RunPlan["sso"]["mode"];
  proxy: { own: boolean; network: string; httpPort: number; httpsPort: number; scheme: "http" | "https" };
  services: Record<string, pulumi.Output<string>>;
  routers: { service: string; name: string; hosts: string[] }[];
  oidc?: {
    realm: string;
    issuer: string;
    clientId: string;
    clientSecret: pulumi.Output<string>;
    keycloakUrl: string;
  };
  testUser?: { username: string; password: pulumi.Output<string> };
  warnings: string[];
}

/** The keycloak provider a run's realm is made with: the warm layer's provisioning identity. */
export function provisioningProviderArgs(kc: {
  adminUrl: string;
  provisioning: { realm: string; clientId: string; clientSecret: string };
}): keycloak.ProviderArgs {
  return {
    url: kc.adminUrl,
    realm: kc.provisioning.realm,
    clientId: kc.provisioning.clientId,
    clientSecret: pulumi.secret(kc.provisioning.clientSecret),
    // The default 5 s lets a slow realm creation time out after Keycloak made it: an orphan.
    clientTimeout: 120,
    initialLogin: false,
  };
}

/** The provisioning identity as AdoptedRealm takes it. */
export function adminIdentity(kc: {
  adminUrl: string;
  provisioning: { realm: string; clientId: string; clientSecret: string };
}): AdminIdentity {
  return { adminUrl: kc.adminUrl, ...kc.provisioning };
}

export class CiRun extends pulumi.ComponentResource {
  public readonly traefik?: Traefik;
  public readonly keycloak?: Keycloak;
  public readonly realm?: RunRealm;
  public readonly app: RecipeApp;
  public readonly outputs: CiRunOutputs;

  constructor(name: string, args: CiRunArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:run:CiRun", name, {}, opts);
    const { plan, model, config, provider } = args;
    const prefix = plan.names.stackName;
    const deps: pulumi.Resource[] = [];

    if (plan.proxy.own) {
      // Without a warm layer the run routes its own traffic, and only its own.
      this.traefik = new Traefik(
        `${name}-traefik`,
        {
          config: config.traefik,
          prefix,
          networkNames: [plan.proxy.network],
          labels: plan.labels,
          constraintLabels: { [LABELS.run]: plan.names.runId },
          provider,
        },
        { parent: this },
      );
      deps.push(this.traefik);
    }

    // Services name their networks by id (what the provider reads back); the warm proxy's is looked up.
    const proxyNetworkId: pulumi.Input<string> = this.traefik
      ? this.traefik.network.id
      : docker.getNetworkOutput({ name: plan.proxy.network }, { parent: this, provider }).id;

    let kcProvider: keycloak.Provider | undefined;
    const sso = plan.sso;
    if (sso.mode === "warm") {
      kcProvider = new keycloak.Provider(`${name}-keycloak`, provisioningProviderArgs(sso.keycloak), {
        parent: this,
      });
    } else if (sso.mode === "cold") {
      this.keycloak = new Keycloak(
        `${name}-keycloak`,
        {
          config: config.keycloak,
          prefix,
          host: sso.host,
          proxy: {
            ...plan.proxy,
            network: this.traefik ? this.traefik.network.name : plan.proxy.network,
            networkId: proxyNetworkId,
          },
          routerName: `${prefix}-keycloak`,
          labels: plan.labels,
          provider,
        },
        { parent: this, dependsOn: [...deps] },
      );
      kcProvider = this.keycloak.adminProvider;
    }

    const runSecrets: Record<string, pulumi.Input<string>> = {};
    const kcUrl = keycloakUrl(plan);
    if (kcProvider && kcUrl) {
      this.realm = new RunRealm(
        `${name}-realm`,
        {
          realm: plan.names.realm,
          runId: plan.names.runId,
          appUrls: [plan.appUrl],
          keycloakUrl: kcUrl,
          clientId: plan.names.realm,
          testUser: config.testUser,
          owner: config.owner,
          provider: kcProvider,
          adopt: sso.mode === "warm" ? adminIdentity(sso.keycloak) : undefined,
        },
        { parent: this },
      );
      const [clientSecretVar, passwordVar] = RUN_SECRET_VARS;
      runSecrets[clientSecretVar] = this.realm.clientSecret;
      runSecrets[passwordVar] = this.realm.password;
      deps.push(this.realm);
    }

    this.app = new RecipeApp(
      `${name}-app`,
      {
        model,
        labels: plan.labels,
        runSecrets,
        provider,
        proxyNetworkId,
        deployTimeout: deployTimeoutOf(config, model),
        waitForServices: config.waitForServices,
        placement: config.placement,
      },
      { parent: this, dependsOn: [...deps] },
    );

    this.outputs = {
      runId: plan.names.runId,
      recipe: plan.recipe,
      stackName: plan.names.stackName,
      domain: plan.domain,
      appUrl: plan.appUrl,
      sso: sso.mode,
      proxy: {
        own: plan.proxy.own,
        network: plan.proxy.network,
        httpPort: plan.proxy.httpPort,
        httpsPort: plan.proxy.httpsPort,
        scheme: plan.proxy.scheme,
      },
      services: Object.fromEntries(Object.entries(this.app.services).map(([k, s]) => [k, s.name])),
      routers: model.services.flatMap((s) =>
        s.routers.map((r) => ({ service: s.name, name: r.name, hosts: r.hosts })),
      ),
      ...(this.realm && kcUrl
        ? {
            oidc: {
              realm: plan.names.realm,
              issuer: this.realm.issuer,
              clientId: this.realm.clientId,
              clientSecret: this.realm.clientSecret,
              keycloakUrl: kcUrl,
            },
            testUser: { username: this.realm.username, password: this.realm.password },
          }
        : {}),
      warnings: [...plan.notes, ...model.warnings],
    };
    this.registerOutputs(this.outputs);
  }
}
