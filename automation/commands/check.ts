/**
 * `cc-ci check <recipe>`: a recipe loaded exactly as a run would load it — a run id, the run's
 * domain under the CI's, the run's CI_* values, the operator's run defaults — and its plan printed,
 * or every problem with its file and line. Needs no Docker, no stack and no Keycloak, so a recipe's
 * maintainer can run it on every push.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { RecipeFiles } from "../../lib/recipe/files";
import { listVariants } from "../../lib/recipe/variants";
import { RunConfig, readRunDefaults, readWarmSettings, runSettingsOf } from "../../lib/config";
import { ValidationError, formatProblem, type Problem } from "../../lib/errors";
import { runNames } from "../../lib/naming";
import type { RecipeModel } from "../../lib/recipe/model";
import { loadRecipe } from "../../lib/recipe/load";
import {
  depWarnings,
  loadDepRecipes,
  planRun,
  recipeOptions,
  runVars,
  type RunPlan,
} from "../../lib/runPlan";
import { depVar, kindFields } from "../../lib/deps/kinds";
import { S3_REGION } from "../../lib/deps/s3";
import { publicUrl } from "../../lib/units";

export interface CheckOptions {
  /** The project (for Pulumi.warm.yaml: the CI domain, ports, rule syntax). */
  projectDir: string;
  recipe?: string;
  /** Operator overrides of .env values (`--env KEY=VALUE`). */
  env?: Record<string, string>;
  defaultsFile?: string;
  /** The operator's catalogue of recipes (`--catalogue`), over the defaults file's. */
  catalogue?: string;
  /** One variant (.cc-ci/variants/<name>.env) only; without it, the recipe and every variant it offers. */
  variant?: string;
}

export interface CheckResult {
  /** True when the recipe and every variant checked would deploy. */
  ok: boolean;
  recipe: string;
  /** The variant this result is of; none: the recipe as it comes. */
  variant?: string;
  /** Without --variant: each variant the recipe offers, checked the same way. */
  variants?: CheckResult[];
  runId?: string;
  appUrl?: string;
  plan?: ReturnType<typeof describePlan>;
  problems: string[];
  warnings: string[];
}

/** The recipe as it comes and, unless one is asked for, every variant it offers. */
export function checkRecipe(dir: string, o: CheckOptions): CheckResult {
  if (o.variant !== undefined || !existsSync(dir)) return checkOne(dir, o);
  const first = checkOne(dir, o);
  const listed = listVariants(new RecipeFiles(path.resolve(dir)));
  const variants = listed.names.map((variant) => checkOne(dir, { ...o, variant }));
  const ok = first.ok && listed.problems.length === 0 && variants.every((v) => v.ok);
  return {
    ...first,
    ok,
    problems: [...first.problems, ...listed.problems],
    ...(variants.length > 0 ? { variants } : {}),
  };
}

function checkOne(dir: string, o: CheckOptions): CheckResult {
  const recipeDir = path.resolve(dir);
  const recipe = o.recipe ?? path.basename(recipeDir);
  let names;
  try {
    names = runNames(recipe);
  } catch (e) {
    return { ok: false, recipe, problems: [(e as Error).message], warnings: [] };
  }
  const settings = readWarmSettings(path.join(o.projectDir, "Pulumi.warm.yaml"));
  const defaults = readRunDefaults(o.defaultsFile, o.catalogue);
  const runDefaults = runSettingsOf(defaults);
  const kcHost = `${settings.keycloak.hostname}.${settings.domain}`;
  const scheme = settings.traefik.tls.mode === "none" ? "http" : "https";
  // The warm layer as a run would find it: its proxy on a slot, its Keycloak (no call is made).
  const proxy = {
    domain: settings.domain,
    networks: [`${settings.proxyNetwork}_0`],
    entrypoints: { web: "web", webSecure: "web-secure" },
    scheme: scheme as "http" | "https",
    httpPort: settings.traefik.httpPort,
    httpsPort: settings.traefik.httpsPort,
    defaultRuleSyntax: settings.traefik.defaultRuleSyntax,
  };
  const keycloak = {
    publicUrl: publicUrl(scheme, kcHost, settings.traefik.httpPort, settings.traefik.httpsPort),
    adminUrl: "http://127.0.0.1:1",
    provisioning: { realm: "master", clientId: "check", clientSecret: "check" },
    service: "keycloak",
    realmPool: 0,
  };
  try {
    const config = RunConfig.parse({
      role: "run",
      runId: names.runId,
      recipeDir,
      recipe,
      variant: o.variant,
      warmProxy: proxy,
      proxyNetwork: proxy.networks[0],
      ...runDefaults,
      env: { ...runDefaults.env, ...(o.env ?? {}) },
    });
    // The warm dependencies Pulumi.warm.yaml serves, as a run would find them (no call is made).
    const postgres = settings.postgres.enabled
      ? {
          adminHost: "127.0.0.1",
          adminPort: settings.postgres.adminPort,
          provisioning: { user: "check", password: "check" },
          network: "postgres",
          service: "postgres",
          image: settings.postgres.image,
          gatewayImage: settings.postgres.gatewayImage,
        }
      : undefined;
    const s3 = settings.s3.enabled
      ? {
          admin: { endpoint: "http://127.0.0.1:1", access: "check", secret: "check" },
          apiEndpoint: "http://127.0.0.1:1",
          publicEndpoint: publicUrl(
            scheme,
            `${settings.s3.hostname}.${settings.domain}`,
            settings.traefik.httpPort,
            settings.traefik.httpsPort,
          ),
          region: S3_REGION,
          network: "s3",
          service: "s3",
          gatewayImage: settings.s3.gatewayImage,
        }
      : undefined;
    const plan = planRun(config, {
      read: { ok: true, proxy, keycloak, problems: [] },
      keycloakHealthy: true,
      deps: { ...(postgres ? { postgres } : {}), ...(s3 ? { s3 } : {}) },
    });
    const model = loadRecipe(recipeOptions(plan, config));
    const depModels = loadDepRecipes(plan, config, model);
    return {
      ok: true,
      recipe,
      ...(o.variant !== undefined ? { variant: o.variant } : {}),
      runId: names.runId,
      appUrl: plan.appUrl,
      plan: describePlan(plan, model, depModels),
      problems: [],
      warnings: [...model.warnings, ...depWarnings(depModels)],
    };
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    return {
      ok: false,
      recipe,
      ...(o.variant !== undefined ? { variant: o.variant } : {}),
      runId: names.runId,
      problems: e.problems.map((p: Problem) => formatProblem(p)),
      warnings: e.warnings,
    };
  }
}

/** Secret placeholders (the run's, and the recipe's secrets in rendered configs) shown as <secret:NAME>. */
function mask(text: string): string {
  return text.replace(/@@cc-ci-secret:([A-Z0-9_]+)@@/g, "<secret:$1>");
}

/** Each dependency: its kind, where it comes from, and the values the recipe gets (secrets masked). */
function describeDeps(plan: RunPlan, m: RecipeModel, depModels: Record<string, RecipeModel>) {
  const vars = runVars(plan, "ci-user");
  return m.ci.deps.map((d) => {
    const p = plan.deps.find((x) => x.name === d.name);
    const mode = d.kind === "oidc" ? `${plan.sso.mode} Keycloak` : p && p.kind !== "oidc" ? p.mode : "?";
    const values = Object.fromEntries(
      Object.keys(kindFields(d.kind)).map((f) => [f, mask(vars[depVar(d, f)] ?? "")]),
    );
    const app = p?.kind === "recipe" ? depModels[p.name] : undefined;
    return {
      name: d.name,
      kind: d.kind,
      mode,
      ...(p?.kind === "recipe" ? { recipe: p.recipe, from: p.dir } : {}),
      ...(app ? { services: app.services.map((s) => `${s.name} (${s.image})`) } : {}),
      values,
      env: d.env,
      secrets: d.secrets,
    };
  });
}

export function describePlan(plan: RunPlan, m: RecipeModel, depModels: Record<string, RecipeModel> = {}) {
  return {
    domain: plan.domain,
    deps: describeDeps(plan, m, depModels),
    network: plan.proxy.network,
    composeFiles: m.composeFiles,
    services: m.services.map((s) => ({
      name: s.name,
      image: s.image,
      mode: s.mode === "global" ? "global" : `${s.mode.replicas} replica(s)`,
      env: Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, mask(v)])),
      networks: s.networks.map((n) => n.network),
      mounts: s.mounts.map(
        (x) =>
          `${x.type} ${x.source ?? ""} → ${x.target}${x.readOnly ? " (ro)" : ""}${x.tmpfsSizeBytes ? ` (${x.tmpfsSizeBytes} bytes)` : ""}`,
      ),
      secrets: s.secrets.map((x) => `${x.key} → ${x.target}`),
      configs: s.configs.map((x) => `${x.key} → ${x.target}`),
      limits: s.resources?.limits,
    })),
    networks: m.networks.map((n) => `${n.name}${n.internal ? " (internal)" : ""}`),
    volumes: m.volumes.map((v) => v.name),
    secrets: m.secrets.map((s) => ({
      name: s.name,
      source:
        s.source.kind === "generate"
          ? s.source.passphrase
            ? `generated passphrase of ${s.source.length} words`
            : `generated, ${s.source.length} characters of ${JSON.stringify(s.source.alphabet)}`
          : s.source.kind === "run"
            ? `the run's ${s.source.variable}`
            : "the recipe's file",
    })),
    configs: m.configs.map((c) => ({
      name: c.name,
      content: c.parts.map((p) => (typeof p === "string" ? mask(p) : `<secret:${p.secret}>`)).join(""),
    })),
    routers: m.services.flatMap((s) =>
      s.routers.map((r) => ({ service: s.name, name: r.name, rule: r.rule, hosts: r.hosts })),
    ),
  };
}

export function checkText(r: CheckResult): string {
  return [checkOneText(r), ...(r.variants ?? []).map(checkOneText)].join("\n");
}

function checkOneText(r: CheckResult): string {
  const out: string[] = [];
  const what = `recipe ${r.recipe}${r.variant !== undefined ? `, variant ${r.variant}` : ""}`;
  if (r.problems.length > 0 || !r.plan) {
    out.push(`${what}: would NOT deploy — ${r.problems.length} problem(s):`);
    for (const p of r.problems) out.push(`  ✗ ${p}`);
  } else {
    const p = r.plan as NonNullable<CheckResult["plan"]>;
    out.push(
      `${what}: would deploy as run ${r.runId} at ${r.appUrl} (compose: ${p.composeFiles.join(", ")})`,
    );
    for (const s of p.services) {
      out.push(`  service ${s.name}: ${s.image}, ${s.mode}, networks ${s.networks.join(", ")}`);
      for (const [k, v] of Object.entries(s.env)) out.push(`    env ${k}=${v}`);
      for (const x of [
        ...s.mounts,
        ...s.secrets.map((y) => `secret ${y}`),
        ...s.configs.map((y) => `config ${y}`),
      ])
        out.push(`    ${x}`);
    }
    for (const d of p.deps) {
      out.push(`  dependency ${d.name}: ${d.kind}${d.recipe ? ` ${d.recipe} (${d.from})` : ""}, ${d.mode}`);
      for (const s of d.services ?? []) out.push(`    service ${s}`);
      for (const [k, v] of Object.entries(d.values)) out.push(`    ${k} = ${v}`);
      for (const [k, f] of Object.entries(d.env)) out.push(`    env ${k} ← ${f}`);
      for (const [k, f] of Object.entries(d.secrets)) out.push(`    secret ${k} ← ${f}`);
    }
    for (const n of p.networks) out.push(`  network ${n}`);
    for (const v of p.volumes) out.push(`  volume ${v}`);
    for (const s of p.secrets) out.push(`  secret ${s.name}: ${s.source}`);
    for (const c of p.configs) out.push(`  config ${c.name}:\n${c.content.replace(/^/gm, "    | ")}`);
    for (const x of p.routers)
      out.push(`  router ${x.name} (${x.service}): ${x.rule} → ${x.hosts.join(", ")}`);
  }
  for (const w of r.warnings) out.push(`  ! ${w}`);
  return out.join("\n");
}
