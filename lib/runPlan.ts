/**
 * What a run stack will be, decided before any resource is declared: its names, which proxy and
 * which Keycloak it uses (warm, or its own), and the values its recipe and tests see. planRun is the
 * one place where the SSO mode is resolved; `cc-ci run` calls it with what its warm check found, the
 * program with what cc-ci handed over in the stack's config.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import type { RunConfig } from "./config";
import type { ContractRead, KeycloakContract, ProxyContract } from "./contract";
import { formatProblems, ValidationError } from "./errors";
import { LABELS, runNames, type RunNames } from "./naming";
import { placeholder } from "./placeholders";
import { publicUrl } from "./units";
import { loadRecipe, type LoadOptions } from "./recipe/load";
import type { RecipeModel } from "./recipe/model";
import { RecipeFiles } from "./recipe/files";
import { DEPS_FILE, readDeps } from "./deps/spec";
import { depRunVars, planDeps, type DepPlan, type RecipeDepPlan, type WarmDeps } from "./deps/plan";

export interface ProxyPlan {
  /** True when the run brings its own Traefik (no usable warm stack). */
  own: boolean;
  ciDomain: string;
  network: string;
  entrypoints: { web: string; webSecure: string };
  scheme: "http" | "https";
  httpPort: number;
  httpsPort: number;
  certResolver?: string;
  /** The rule syntax Traefik gives routers that name none. */
  defaultRuleSyntax: "v2" | "v3";
}

/** Where the run's realm lives. */
export type SsoPlan =
  | { mode: "warm"; keycloak: KeycloakContract }
  | { mode: "cold"; /** Public host of the run's own Keycloak. */ host: string }
  | { mode: "off" };
export type SsoMode = SsoPlan["mode"];

export interface RunPlan {
  names: RunNames;
  recipe: string;
  /** The recipe's variant under test (its tests see it as CI_VARIANT). */
  variant?: string;
  /** The fast path (--quick): the tests see CI_QUICK=1 and may skip their slow part. */
  quick?: boolean;
  /** The run's domain, <run id>.<ci domain>. */
  domain: string;
  appUrl: string;
  proxy: ProxyPlan;
  sso: SsoPlan;
  /** The recipe's declared dependencies (.cc-ci/deps.yml), each warm or cold. */
  deps: DepPlan[];
  labels: Record<string, string>;
  /** Why the plan is not what was asked for (e.g. a cold fallback), for the run's log. */
  notes: string[];
}

/** What is known of the warm layer when a run is planned. */
export interface WarmView {
  /** The warm stack's outputs read against the contract; undefined when there is no warm stack. */
  read?: ContractRead;
  /** Whether the warm Keycloak can make the run's realm (cc-ci checks it; the program trusts what cc-ci handed over). */
  keycloakHealthy: boolean;
  /** Why it cannot, when cc-ci found out. */
  keycloakProblem?: string;
  /** The warm dependencies usable by runs (and why one is not). */
  deps?: WarmDeps;
}

/** The warm layer as a run stack's config describes it (what cc-ci handed over). */
export function warmViewOfConfig(config: RunConfig): WarmView {
  const deps: WarmDeps = {
    ...(config.warmPostgres ? { postgres: config.warmPostgres } : {}),
    ...(config.warmS3 ? { s3: config.warmS3 } : {}),
  };
  if (!config.warmProxy) return { keycloakHealthy: false, deps };
  return {
    read: { ok: true, proxy: config.warmProxy, keycloak: config.warmKeycloak, problems: [] },
    keycloakHealthy: config.warmKeycloak !== undefined,
    deps,
  };
}

/** Run values that are secrets, and only known once the stack deploys. */
export const RUN_SECRET_VARS = ["CI_OIDC_CLIENT_SECRET", "CI_TEST_PASSWORD"] as const;

function ownProxy(config: RunConfig, names: RunNames): ProxyPlan {
  return {
    own: true,
    ciDomain: config.domain,
    network: `${names.stackName}_proxy`,
    entrypoints: { web: "web", webSecure: "web-secure" },
    scheme: config.traefik.tls.mode === "none" ? "http" : "https",
    httpPort: config.traefik.httpPort,
    httpsPort: config.traefik.httpsPort,
    defaultRuleSyntax: config.traefik.defaultRuleSyntax,
  };
}

/** The warm proxy, on the slot network leased for the run. */
function warmProxy(p: ProxyContract, slot: string | undefined): ProxyPlan {
  if (slot === undefined)
    throw new ValidationError("run", [
      { path: "proxyNetwork", message: "no slot network of the warm proxy was leased for the run" },
    ]);
  if (!p.networks.includes(slot))
    throw new ValidationError("run", [
      {
        path: "proxyNetwork",
        message: `"${slot}" is not one of the warm proxy's slots (${p.networks.join(", ")})`,
      },
    ]);
  const { networks: _all, ...rest } = p;
  return { own: false, ciDomain: p.domain, ...rest, network: slot };
}

/** Why the warm Keycloak cannot be used, for notes and errors. */
function unusable(warm: WarmView): string {
  if (!warm.read) return "no warm stack";
  if (!warm.read.ok || !warm.read.keycloak) return formatProblems(warm.read.problems) || "no Keycloak";
  return warm.keycloakProblem ?? "it does not answer";
}

export function planRun(config: RunConfig, warm: WarmView): RunPlan {
  const recipe = config.recipe ?? path.basename(config.recipeDir);
  const names = runNames(recipe, config.runId.split("-")[1]);
  if (names.runId !== config.runId) {
    throw new ValidationError("stack config", [
      {
        path: "runId",
        message: `"${config.runId}" does not belong to recipe ${recipe} (expected ${names.runId})`,
      },
    ]);
  }
  const notes: string[] = [];
  const read = warm.read;
  const proxy = read?.ok ? warmProxy(read.proxy, config.proxyNetwork) : ownProxy(config, names);
  if (read && !read.ok)
    notes.push(`warm stack unusable (${formatProblems(read.problems)}); the run brings its own Traefik`);
  const domain = `${names.runId}.${proxy.ciDomain}`;
  const warmKeycloak = read?.ok && warm.keycloakHealthy ? read.keycloak : undefined;
  const cold: SsoPlan = { mode: "cold", host: `keycloak.${domain}` };
  let sso: SsoPlan;
  switch (config.sso) {
    case "off":
      sso = { mode: "off" };
      break;
    case "cold":
      sso = cold;
      break;
    case "warm":
      if (!warmKeycloak)
        throw new ValidationError("run", [
          {
            path: "sso",
            message: `warm SSO was asked for, but the warm Keycloak is unusable: ${unusable(warm)}`,
          },
        ]);
      sso = { mode: "warm", keycloak: warmKeycloak };
      break;
    case "auto":
      if (warmKeycloak) sso = { mode: "warm", keycloak: warmKeycloak };
      else {
        notes.push(
          `no usable warm Keycloak (${unusable(warm)}); falling back to a cold Keycloak in the run stack`,
        );
        sso = cold;
      }
      break;
  }
  // A broken deps file is the loader's to report, with the recipe's other problems.
  const declared = existsSync(config.recipeDir) ? readDeps(new RecipeFiles(config.recipeDir)) : { deps: [] };
  const deps = planDeps(
    declared.deps,
    config.deps,
    warm.deps ?? {},
    names,
    sso.mode === "off",
    notes,
    config.owner,
    {
      catalogue: config.catalogue,
      domain,
      url: (host) => publicUrl(proxy.scheme, host, proxy.httpPort, proxy.httpsPort),
    },
  );
  const labels: Record<string, string> = {
    [LABELS.run]: names.runId,
    [LABELS.recipe]: recipe,
    [LABELS.stack]: names.stack,
    [LABELS.stackNamespace]: names.stackName,
    ...(config.pr !== undefined ? { [LABELS.pr]: String(config.pr) } : {}),
    ...(config.ref !== undefined ? { [LABELS.ref]: config.ref } : {}),
    ...(config.variant !== undefined ? { [LABELS.variant]: config.variant } : {}),
    ...(config.owner !== undefined ? { [LABELS.owner]: config.owner } : {}),
  };
  return {
    names,
    recipe,
    ...(config.variant !== undefined ? { variant: config.variant } : {}),
    ...(config.quick ? { quick: true } : {}),
    domain,
    appUrl: publicUrl(proxy.scheme, domain, proxy.httpPort, proxy.httpsPort),
    proxy,
    sso,
    deps,
    labels,
    notes,
  };
}

/** Seconds the recipe's services get to converge: the recipe's own timeout label (abra's), within the operator's bound. */
export function deployTimeoutOf(config: RunConfig, model: { deployTimeout?: number }): number {
  return Math.min(model.deployTimeout ?? config.deployTimeout, config.deployTimeout);
}

/** Keycloak's public base URL for this run, when it has SSO. */
export function keycloakUrl(plan: RunPlan): string | undefined {
  switch (plan.sso.mode) {
    case "off":
      return undefined;
    case "warm":
      return plan.sso.keycloak.publicUrl;
    case "cold":
      return publicUrl(plan.proxy.scheme, plan.sso.host, plan.proxy.httpPort, plan.proxy.httpsPort);
  }
}

/** The values a recipe (and its tests) see: CI_* variables; secret ones as placeholders. */
export function runVars(plan: RunPlan, testUser: string): Record<string, string> {
  const vars: Record<string, string> = {
    ...baseVars(plan, plan.names.stackName, plan.domain, plan.appUrl),
    ...(plan.variant !== undefined ? { CI_VARIANT: plan.variant } : {}),
    ...(plan.quick ? { CI_QUICK: "1" } : {}),
  };
  const kc = keycloakUrl(plan);
  if (kc) {
    const issuer = `${kc}/realms/${plan.names.realm}`;
    Object.assign(vars, {
      CI_KEYCLOAK_URL: kc,
      CI_OIDC_REALM: plan.names.realm,
      CI_OIDC_ISSUER: issuer,
      CI_OIDC_DISCOVERY_URL: `${issuer}/.well-known/openid-configuration`,
      CI_OIDC_CLIENT_ID: plan.names.realm,
      CI_TEST_USER: testUser,
    });
    for (const v of RUN_SECRET_VARS) vars[v] = placeholder(v);
  }
  return { ...vars, ...depRunVars(plan.deps) };
}

/** The run's own values, for a recipe at `domain` with `stackName`. */
function baseVars(plan: RunPlan, stackName: string, domain: string, url: string): Record<string, string> {
  return {
    CI_RUN_ID: plan.names.runId,
    CI_STACK: plan.names.stack,
    CI_STACK_NAME: stackName,
    CI_DOMAIN: domain,
    CI_APP_URL: url,
  };
}

/**
 * How a catalogue recipe the run depends on is loaded: by the same loader under the same policy,
 * limits and images, with its own STACK_NAME and domain and the run's labels (plus its dependency's
 * name). It sees the run's id and its own domain, not the realm nor the other dependencies' values.
 */
export function depRecipeOptions(plan: RunPlan, config: RunConfig, d: RecipeDepPlan): LoadOptions {
  return {
    dir: d.dir,
    recipe: d.recipe,
    stackName: d.stackName,
    domain: d.domain,
    proxyNetwork: plan.proxy.network,
    entrypoints: plan.proxy.entrypoints,
    certResolver: plan.proxy.certResolver,
    ruleSyntax: plan.proxy.defaultRuleSyntax,
    plainHttp: plan.proxy.scheme === "http",
    runVars: baseVars(plan, d.stackName, d.domain, d.url),
    env: config.env,
    images: config.images,
    policy: config.policy,
    limits: config.limits,
    labels: depLabels(plan, d),
  };
}

/** The labels of a recipe dependency's objects: the run's, its own stack namespace, its name. */
export function depLabels(plan: RunPlan, d: RecipeDepPlan): Record<string, string> {
  return { ...plan.labels, [LABELS.stackNamespace]: d.stackName, [LABELS.dep]: d.name };
}

/**
 * The catalogue recipes the run depends on, loaded (every problem of each, named by the dependency).
 * One level: a catalogue recipe that declares dependencies of its own is refused.
 */
export function loadDepRecipes(
  plan: RunPlan,
  config: RunConfig,
  model: RecipeModel,
): Record<string, RecipeModel> {
  const out: Record<string, RecipeModel> = {};
  for (const d of plan.deps) {
    if (d.kind !== "recipe") continue;
    const subject = `dependency ${d.name}: recipe ${d.recipe} (${d.dir})`;
    const own = readDeps(new RecipeFiles(d.dir));
    if (own.problems.length > 0 || own.deps.length > 0)
      throw new ValidationError(subject, [
        {
          path: "",
          file: DEPS_FILE,
          message:
            "a catalogue recipe deployed as a dependency brings no dependencies of its own (dependencies are one level deep)",
        },
      ]);
    try {
      out[d.name] = loadRecipe(depRecipeOptions(plan, config, d));
    } catch (e) {
      if (e instanceof ValidationError) throw new ValidationError(subject, e.problems, e.warnings, e);
      throw e;
    }
  }
  runTotals(model, out, config.limits);
  return out;
}

/** The catalogue recipes' warnings, each named by its dependency. */
export function depWarnings(depModels: Record<string, RecipeModel>): string[] {
  return Object.entries(depModels).flatMap(([dep, m]) => m.warnings.map((w) => `dependency ${dep}: ${w}`));
}

/** The run's limits on services and replicas hold for the recipe and its catalogue recipes together. */
function runTotals(model: RecipeModel, deps: Record<string, RecipeModel>, limits: RunConfig["limits"]): void {
  const all = [model, ...Object.values(deps)];
  if (all.length === 1) return;
  const services = all.reduce((n, m) => n + m.services.length, 0);
  // A global service counts once, as on one node.
  const replicas = all.reduce(
    (n, m) => n + m.services.reduce((r, x) => r + (x.mode === "global" ? 1 : x.mode.replicas), 0),
    0,
  );
  const problems = [
    ...(services > limits.maxServices
      ? [
          `${services} services with its catalogue recipes' are over the run's limit of ${limits.maxServices} (limits.maxServices)`,
        ]
      : []),
    ...(replicas > limits.maxTotalReplicas
      ? [
          `${replicas} replicas in all with its catalogue recipes' are over the run's limit of ${limits.maxTotalReplicas} (limits.maxTotalReplicas)`,
        ]
      : []),
  ];
  if (problems.length > 0)
    throw new ValidationError(
      `recipe ${model.recipe} with its dependencies`,
      problems.map((message) => ({ path: "", file: DEPS_FILE, message })),
    );
}

/** How the recipe is loaded for this run (the program and `cc-ci run` must load it alike). */
export function recipeOptions(plan: RunPlan, config: RunConfig): LoadOptions {
  return {
    dir: config.recipeDir,
    recipe: plan.recipe,
    variant: config.variant,
    stackName: plan.names.stackName,
    domain: plan.domain,
    proxyNetwork: plan.proxy.network,
    entrypoints: plan.proxy.entrypoints,
    certResolver: plan.proxy.certResolver,
    ruleSyntax: plan.proxy.defaultRuleSyntax,
    plainHttp: plan.proxy.scheme === "http",
    runVars: runVars(plan, config.testUser),
    env: config.env,
    images: config.images,
    policy: config.policy,
    limits: config.limits,
    labels: plan.labels,
    secretFromVar: config.oidcClientSecret
      ? { [config.oidcClientSecret]: "CI_OIDC_CLIENT_SECRET" }
      : undefined,
  };
}
