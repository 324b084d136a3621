/**
 * `cc-ci check <recipe>`: a recipe loaded exactly as a run would load it — a run id, the run's
 * domain under the CI's, the run's CI_* values, the operator's run defaults — and its plan printed,
 * or every problem with its file and line. Needs no Docker, no stack and no Keycloak, so a recipe's
 * maintainer can run it on every push.
 */
import * as path from "node:path";
import { RunConfig, readRunDefaults, readWarmSettings } from "../../lib/config";
import { ValidationError, formatProblem, type Problem } from "../../lib/errors";
import { runNames } from "../../lib/naming";
import type { RecipeModel } from "../../lib/recipe/model";
import { loadRecipe } from "../../lib/recipe/load";
import { planRun, recipeOptions, type RunPlan } from "../../lib/runPlan";
import { publicUrl } from "../../lib/units";

export interface CheckOptions {
  /** The project (for Pulumi.warm.yaml: the CI domain, ports, rule syntax). */
  projectDir: string;
  recipe?: string;
  /** Operator overrides of .env values (`--env KEY=VALUE`). */
  env?: Record<string, string>;
  defaultsFile?: string;
}

export interface CheckResult {
  ok: boolean;
  recipe: string;
  runId?: string;
  appUrl?: string;
  plan?: ReturnType<typeof describePlan>;
  problems: string[];
  warnings: string[];
}

export function checkRecipe(dir: string, o: CheckOptions): CheckResult {
  const recipeDir = path.resolve(dir);
  const recipe = o.recipe ?? path.basename(recipeDir);
  let names;
  try {
    names = runNames(recipe);
  } catch (e) {
    return { ok: false, recipe, problems: [(e as Error).message], warnings: [] };
  }
  const settings = readWarmSettings(path.join(o.projectDir, "Pulumi.warm.yaml"));
  const defaults = readRunDefaults(o.defaultsFile);
  const { readyTimeout: _r, sandbox: _s, ...runDefaults } = defaults;
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
      warmProxy: proxy,
      proxyNetwork: proxy.networks[0],
      ...runDefaults,
      env: { ...runDefaults.env, ...(o.env ?? {}) },
    });
    const plan = planRun(config, {
      read: { ok: true, proxy, keycloak, problems: [] },
      keycloakHealthy: true,
    });
    const model = loadRecipe(recipeOptions(plan, config));
    return {
      ok: true,
      recipe,
      runId: names.runId,
      appUrl: plan.appUrl,
      plan: describePlan(plan, model),
      problems: [],
      warnings: model.warnings,
    };
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    return {
      ok: false,
      recipe,
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

export function describePlan(plan: RunPlan, m: RecipeModel) {
  return {
    domain: plan.domain,
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
  const out: string[] = [];
  if (!r.ok) {
    out.push(`recipe ${r.recipe}: would NOT deploy — ${r.problems.length} problem(s):`);
    for (const p of r.problems) out.push(`  ✗ ${p}`);
  } else {
    const p = r.plan as NonNullable<CheckResult["plan"]>;
    out.push(
      `recipe ${r.recipe}: would deploy as run ${r.runId} at ${r.appUrl} (compose: ${p.composeFiles.join(", ")})`,
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
