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
import type { LoadOptions } from "./recipe/load";
import { RecipeFiles } from "./recipe/files";
import { readDeps } from "./deps/spec";
import { depRunVars, planDeps, type DepPlan, type WarmDeps } from "./deps/plan";

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
    CI_RUN_ID: plan.names.runId,
    CI_STACK: plan.names.stack,
    CI_STACK_NAME: plan.names.stackName,
    CI_DOMAIN: plan.domain,
    CI_APP_URL: plan.appUrl,
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
