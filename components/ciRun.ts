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
import { depLabels, deployTimeoutOf, keycloakUrl, RUN_SECRET_VARS, type RunPlan } from "../lib/runPlan";
import { LABELS } from "../lib/naming";
import { Keycloak } from "./keycloak";
import { RecipeApp } from "./recipeApp";
import { RunRealm } from "./runRealm";
import { RunPostgres } from "./runPostgres";
import { RunS3 } from "./runS3";
import { RunSmtp } from "./runSmtp";
import { depsNetwork, depValues, type RecipeDepPlan, type ServedPlan } from "../lib/deps/plan";
import { depVar, kindFields, type DepKind } from "../lib/deps/kinds";
import { labelList } from "./util";
import { Traefik } from "./traefik";

export interface CiRunArgs {
  plan: RunPlan;
  model: RecipeModel;
  /** The catalogue recipes the run depends on, loaded (lib/runPlan.ts loadDepRecipes), by dependency. */
  depModels?: Record<string, RecipeModel>;
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
  /** Each dependency's mode and values (secret ones secret), by its name. */
  deps: Record<string, { kind: string; mode: string; values: Record<string, pulumi.Input<string>> }>;
  /** Every secret value the run holds (the recipe's, its realm's, its dependencies'): masked in its artifacts. */
  masks: pulumi.Output<string[]>;
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
  /** The run's dependencies other than OIDC, by name. */
  public readonly served: Record<string, RunPostgres | RunS3 | RunSmtp | RecipeApp> = {};
  /** Their values (secret ones as outputs), by dependency. */
  private readonly servedValues: Record<string, Record<string, pulumi.Input<string>>> = {};
  private readonly servedKinds: Record<string, DepKind> = {};
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

    const depsNet = this.declareDeps(name, args, runSecrets, deps, proxyNetworkId);

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
        extraNetworkIds: depsNet ? [depsNet.id] : [],
      },
      { parent: this, dependsOn: [...deps] },
    );

    this.outputs = this.runOutputs(args, kcUrl);
    this.registerOutputs(this.outputs);
  }

  /** What the stack exports for `cc-ci run` and the tests (see CiRunOutputs). */
  private runOutputs(args: CiRunArgs, kcUrl: string | undefined): CiRunOutputs {
    const { plan, model } = args;
    const sso = plan.sso;
    return {
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
      // The catalogue recipes' routers too: the ready phase waits for each of their hosts.
      routers: [model, ...Object.values(args.depModels ?? {})].flatMap((m) =>
        m.services.flatMap((s) => s.routers.map((r) => ({ service: s.name, name: r.name, hosts: r.hosts }))),
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
      deps: Object.fromEntries(
        plan.deps.map((d) => [
          d.name,
          {
            kind: d.kind,
            mode: d.kind === "oidc" ? plan.sso.mode : d.mode,
            values: d.kind === "oidc" ? {} : this.servedValues[d.name],
          },
        ]),
      ),
      masks: this.masks(),
      warnings: [...plan.notes, ...model.warnings],
    };
  }

  /** The run's secret values, as one secret output (never shown; what artifacts are masked with). */
  private masks(): pulumi.Output<string[]> {
    const values: pulumi.Input<string>[] = [...Object.values(this.app.secretValues)];
    if (this.realm) values.push(this.realm.clientSecret, this.realm.password);
    for (const [dep, r] of Object.entries(this.served)) {
      const kind = this.servedKinds[dep];
      for (const [field, v] of Object.entries(this.servedValues[dep]))
        if (kindFields(kind)[field]?.secret) values.push(v);
      if (r instanceof RecipeApp) values.push(...Object.values(r.secretValues));
    }
    // Too short to mask without hiding ordinary words.
    return pulumi.secret(pulumi.all(values).apply((v) => [...new Set(v.filter((x) => x.length >= 6))]));
  }

  /**
   * The run's dependencies other than OIDC, on a network of the run's own that every service of the
   * recipe joins; their values go where the recipe's env and secrets name them.
   */
  private declareDeps(
    name: string,
    args: CiRunArgs,
    runSecrets: Record<string, pulumi.Input<string>>,
    deps: pulumi.Resource[],
    proxyNetworkId: pulumi.Input<string>,
  ): docker.Network | undefined {
    const { plan, config, provider } = args;
    for (const d of plan.deps) {
      if (d.kind !== "recipe") continue;
      const model = args.depModels?.[d.name];
      if (!model) throw new Error(`dependency ${d.name}: recipe ${d.recipe} was not loaded`);
      // Behind the run's proxy like the recipe under test; on no network of the recipe's.
      const app = new RecipeApp(
        `${name}-dep-${d.name}`,
        {
          model,
          labels: depLabels(plan, d),
          runSecrets: {},
          provider,
          proxyNetworkId,
          deployTimeout: deployTimeoutOf(config, model),
          waitForServices: config.waitForServices,
          placement: config.placement,
        },
        { parent: this, dependsOn: this.traefik ? [this.traefik] : [] },
      );
      this.served[d.name] = app;
      this.servedKinds[d.name] = d.kind;
      this.servedValues[d.name] = depValues(d);
      deps.push(app);
    }
    const served = plan.deps.filter(
      (d): d is Exclude<ServedPlan, RecipeDepPlan> => d.kind !== "oidc" && d.kind !== "recipe",
    );
    if (served.length === 0) return undefined;
    const net = new docker.Network(
      `${name}-deps`,
      {
        name: depsNetwork(plan.names),
        driver: "overlay",
        // The sandbox joins it too (the tests may read what the app wrote); nothing on it goes out.
        attachable: true,
        internal: true,
        labels: labelList(plan.labels),
      },
      { parent: this, provider },
    );
    const common = {
      prefix: plan.names.stackName,
      networkId: net.id,
      labels: plan.labels,
      provider,
      wait: config.waitForServices,
    };
    for (const d of served) {
      const r =
        d.kind === "postgres"
          ? new RunPostgres(
              `${name}-dep-${d.name}`,
              { ...common, dep: d, runId: plan.names.runId, owner: config.owner, config: config.postgres },
              { parent: this },
            )
          : d.kind === "s3"
            ? new RunS3(
                `${name}-dep-${d.name}`,
                {
                  ...common,
                  dep: d,
                  config: config.s3,
                  proxy: { ...plan.proxy, id: proxyNetworkId, name: plan.proxy.network },
                },
                { parent: this },
              )
            : new RunSmtp(
                `${name}-dep-${d.name}`,
                { ...common, dep: d, config: config.smtp },
                { parent: this },
              );
      this.served[d.name] = r;
      this.servedValues[d.name] = r.values;
      this.servedKinds[d.name] = d.kind;
      for (const [field, value] of Object.entries(r.values)) runSecrets[depVar(d, field)] = value;
      deps.push(r);
    }
    return net;
  }
}
