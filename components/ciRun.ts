/**
 * One CI run: the proxy and Keycloak it uses (the warm layer's, or its own), its realm, and the
 * recipe's services wired with the realm's OIDC values before their single deploy.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as keycloak from "@pulumi/keycloak";
import type { RunConfig } from "../lib/config";
import type { RecipeModel } from "../lib/recipe/model";
import { keycloakUrl, RUN_SECRET_VARS, type RunPlan } from "../lib/runPlan";
import { Keycloak } from "./keycloak";
import { RecipeApp } from "./recipeApp";
import { RunRealm } from "./runRealm";
import { Traefik } from "./traefik";
import { LABELS } from "../lib/naming";

export interface CiRunArgs {
  plan: RunPlan;
  model: RecipeModel;
  config: RunConfig;
  provider: docker.Provider;
}

export class CiRun extends pulumi.ComponentResource {
  public readonly traefik?: Traefik;
  public readonly keycloak?: Keycloak;
  public readonly realm?: RunRealm;
  public readonly app: RecipeApp;

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
          networkName: plan.proxy.network,
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
    if (plan.sso === "warm") {
      const warm = plan.warmKeycloak as NonNullable<RunPlan["warmKeycloak"]>;
      kcProvider = new keycloak.Provider(
        `${name}-keycloak`,
        {
          url: warm.adminUrl,
          realm: warm.provisioning.realm,
          clientId: warm.provisioning.clientId,
          clientSecret: pulumi.secret(warm.provisioning.clientSecret),
          // The default 5 s lets a slow realm creation time out after Keycloak made it: an orphan.
          clientTimeout: 120,
          initialLogin: false,
        },
        { parent: this },
      );
    } else if (plan.sso === "cold") {
      this.keycloak = new Keycloak(
        `${name}-keycloak`,
        {
          config: config.keycloak,
          prefix,
          host: plan.coldKeycloakHost,
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
    if (kcProvider) {
      const appUrls = [plan.appUrl];
      this.realm = new RunRealm(
        `${name}-realm`,
        {
          realm: plan.names.realm,
          runId: plan.names.runId,
          appUrls,
          keycloakUrl: keycloakUrl(plan) as string,
          clientId: plan.names.realm,
          testUser: config.testUser,
          provider: kcProvider,
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
        deployTimeout: config.deployTimeout,
      },
      { parent: this, dependsOn: [...deps] },
    );
    this.registerOutputs({});
  }

  /** The run stack's outputs: what `cc-ci run` and the recipe's tests read. Secrets stay secret. */
  outputs(plan: RunPlan, model: RecipeModel): Record<string, pulumi.Input<unknown>> {
    return {
      runId: plan.names.runId,
      recipe: plan.recipe,
      stackName: plan.names.stackName,
      domain: plan.domain,
      appUrl: plan.appUrl,
      sso: plan.sso,
      proxy: {
        own: plan.proxy.own,
        network: plan.proxy.network,
        httpPort: plan.proxy.httpPort,
        httpsPort: plan.proxy.httpsPort,
        scheme: plan.proxy.scheme,
      },
      services: Object.fromEntries(Object.values(this.app.services).map((s) => [s.name, s.name])),
      routers: model.services.flatMap((s) =>
        s.routers.map((r) => ({ service: s.name, name: r.name, hosts: r.hosts })),
      ),
      ...(this.realm
        ? {
            oidc: {
              realm: plan.names.realm,
              issuer: this.realm.issuer,
              clientId: this.realm.clientId,
              clientSecret: this.realm.clientSecret,
              keycloakUrl: keycloakUrl(plan),
              adminUrl: plan.sso === "warm" ? plan.warmKeycloak?.adminUrl : this.keycloak?.adminUrl,
            },
            testUser: { username: this.realm.username, password: this.realm.password },
          }
        : {}),
      warnings: [...plan.notes, ...model.warnings],
    };
  }
}
