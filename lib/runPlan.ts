/**
 * What a run stack will be, decided before any resource is declared: its names, which proxy and
 * which Keycloak it uses (warm, or its own), and the values its recipe and tests see.
 */
import * as path from "node:path";
import type { RunConfig } from "./config";
import type { LoadOptions } from "./recipe/load";
import type { ContractRead, KeycloakContract } from "./contract";
import { ValidationError } from "./errors";
import { LABELS, runNames, type RunNames } from "./naming";
import { placeholder } from "./placeholders";
import { publicUrl } from "../components/util";

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
}

export interface RunPlan {
  names: RunNames;
  recipe: string;
  /** The run's domain, <run id>.<ci domain>. */
  domain: string;
  appUrl: string;
  proxy: ProxyPlan;
  sso: "warm" | "cold" | "off";
  /** The warm Keycloak, when sso is warm. */
  warmKeycloak?: KeycloakContract;
  /** Keycloak's public host for a cold Keycloak. */
  coldKeycloakHost: string;
  labels: Record<string, string>;
  /** Why the plan is not what was asked for (e.g. a cold fallback), for the run's log. */
  notes: string[];
}

/** Run values that are secrets, and only known once the stack deploys. */
export const RUN_SECRET_VARS = ["CI_OIDC_CLIENT_SECRET", "CI_TEST_PASSWORD"] as const;

export function planRun(config: RunConfig, warm: ContractRead | undefined): RunPlan {
  const recipe = config.recipe ?? path.basename(config.recipeDir);
  const hex = config.runId.split("-")[1];
  const names = runNames(recipe, hex);
  if (names.runId !== config.runId) {
    throw new ValidationError("stack config", [
      {
        path: "runId",
        message: `"${config.runId}" does not belong to recipe ${recipe} (expected ${names.runId})`,
      },
    ]);
  }
  const notes: string[] = [];
  let proxy: ProxyPlan;
  if (warm?.ok) {
    proxy = { own: false, ciDomain: warm.proxy.domain, ...warm.proxy };
  } else {
    if (warm)
      notes.push(
        `warm stack unusable (${warm.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}); the run brings its own Traefik`,
      );
    const tls = config.traefik.tls;
    proxy = {
      own: true,
      ciDomain: config.domain,
      network: `${names.stackName}_proxy`,
      entrypoints: { web: "web", webSecure: "web-secure" },
      scheme: tls.mode === "none" ? "http" : "https",
      httpPort: config.traefik.httpPort,
      httpsPort: config.traefik.httpsPort,
    };
  }
  let sso: RunPlan["sso"];
  const warmKeycloak = warm?.ok ? warm.keycloak : undefined;
  switch (config.sso) {
    case "off":
      sso = "off";
      break;
    case "cold":
      sso = "cold";
      break;
    case "warm":
      if (!warmKeycloak) {
        const why = warm
          ? warm.problems.map((p) => `${p.path}: ${p.message}`).join("; ")
          : "no warm stack configured";
        throw new ValidationError("run", [
          { path: "sso", message: `warm SSO was asked for, but the warm Keycloak is unusable: ${why}` },
        ]);
      }
      sso = "warm";
      break;
    case "auto":
      sso = warmKeycloak ? "warm" : "cold";
      if (!warmKeycloak) {
        const why = warm ? warm.problems.map((p) => `${p.path}: ${p.message}`).join("; ") : "no warm stack";
        notes.push(`no usable warm Keycloak (${why}); falling back to a cold Keycloak in the run stack`);
      }
      break;
  }
  const domain = `${names.runId}.${proxy.ciDomain}`;
  const labels: Record<string, string> = {
    [LABELS.run]: names.runId,
    [LABELS.recipe]: recipe,
    [LABELS.stack]: names.stack,
    [LABELS.stackNamespace]: names.stackName,
    ...(config.pr !== undefined ? { "cc-ci.pr": String(config.pr) } : {}),
    ...(config.ref !== undefined ? { "cc-ci.ref": config.ref } : {}),
  };
  return {
    names,
    recipe,
    domain,
    appUrl: publicUrl(proxy.scheme, domain, proxy.httpPort, proxy.httpsPort),
    proxy,
    sso,
    warmKeycloak: sso === "warm" ? warmKeycloak : undefined,
    coldKeycloakHost: `keycloak.${domain}`,
    labels,
    notes,
  };
}

/** Keycloak's public base URL for this run. */
export function keycloakUrl(plan: RunPlan): string | undefined {
  if (plan.sso === "off") return undefined;
  if (plan.sso === "warm") return plan.warmKeycloak?.publicUrl;
  return publicUrl(plan.proxy.scheme, plan.coldKeycloakHost, plan.proxy.httpPort, plan.proxy.httpsPort);
}

/** The values a recipe (and its tests) see: CI_* variables; secret ones as placeholders. */
export function runVars(plan: RunPlan, testUser: string): Record<string, string> {
  const vars: Record<string, string> = {
    CI_RUN_ID: plan.names.runId,
    CI_STACK: plan.names.stack,
    CI_DOMAIN: plan.domain,
    CI_APP_URL: plan.appUrl,
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
  return vars;
}

/** How the recipe is loaded for this run (the program and `cc-ci run` must load it alike). */
export function recipeOptions(plan: RunPlan, config: RunConfig): LoadOptions {
  return {
    dir: config.recipeDir,
    recipe: plan.recipe,
    stackName: plan.names.stackName,
    domain: plan.domain,
    proxyNetwork: plan.proxy.network,
    entrypoints: plan.proxy.entrypoints,
    certResolver: plan.proxy.certResolver,
    plainHttp: plan.proxy.scheme === "http",
    runVars: runVars(plan, config.testUser),
    env: config.env,
    images: config.images,
    policy: config.policy,
    labels: plan.labels,
    secretFromVar: config.oidcClientSecret
      ? { [config.oidcClientSecret]: "CI_OIDC_CLIENT_SECRET" }
      : undefined,
  };
}
