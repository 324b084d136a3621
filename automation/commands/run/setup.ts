/**
 * Setup, phase by phase: warm-check → validate → realm ∥ stack-create → up → converge → reachable →
 * sso-ready. Each phase records in the run's state what it made, so teardown undoes exactly that.
 */
import * as path from "node:path";
import type { LocalWorkspace } from "@pulumi/pulumi/automation";
import { readRunDefaults, readWarmSettings } from "../../../lib/config";
import { ownerId } from "../../../lib/naming";
import { depWarnings, deployTimeoutOf } from "../../../lib/runPlan";
import { bytes } from "../../../lib/units";
import type { RecipeModel } from "../../../lib/recipe/model";
import { openWorkspace, type StackOutputs } from "../../adapters/pulumi";
import { waitConverged } from "./converge";
import { createRunStack, deployRun } from "./deploy";
import { watchDisk } from "./diskBudget";
import { checkWarm, claimRunSlot, freeRunPorts, prepareRun, type RunRequest } from "./prepare";
import { waitReachable, waitSsoReady } from "./ready";
import { makeRunRealm } from "./realm";
import { copyRecipe } from "./recipeCopy";
import { upgradeBase, upgradeRun } from "./upgrade";
import { ValidationError } from "../../../lib/errors";
import { stopIfAborted, type RunState, type Validated } from "./state";

/** The run set up: what validation made and the stack's outputs, for the tests. */
export async function setUp(s: RunState): Promise<{ validated: Validated; outputs: StackOutputs }> {
  const work = await openWorkspace(s.env, s.names.stack);
  s.work = work;
  const warm = await s.clock.run("warm-check", () => warmCheck(s, work.ws));
  s.validated = await s.clock.run("validate", () => validate(s, warm));
  const { plan, model, depModels } = s.validated;
  s.report.warnings.push(...plan.notes, ...model.warnings, ...depWarnings(depModels));
  Object.assign(s.report, { mode: plan.sso.mode, domain: plan.domain, appUrl: plan.appUrl });
  const deps = plan.deps.flatMap((d) => (d.kind === "oidc" ? [] : [[d.name, d.mode]]));
  if (deps.length > 0) s.report.deps = Object.fromEntries(deps);
  s.say(`SSO ${plan.sso.mode}; app at ${plan.appUrl}`);
  stopIfAborted(s);
  await realmAndStack(s, work.ws, s.validated);
  watchRunDisk(s, s.validated);
  s.outputs = await s.clock.run("up", () => deployRun(work.ws, s.names.stack, s.say, s.signals.abort.signal));
  stopIfAborted(s);
  await waitReady(s, s.validated);
  if (s.upgrade && s.stack) {
    stopIfAborted(s);
    await upgradeRun(s, s.upgrade, s.stack, (v) => waitReady(s, v));
  }
  return { validated: s.validated, outputs: s.outputs as StackOutputs };
}

/** The warm layer as it is now, and a network of the warm proxy's for this run alone. */
async function warmCheck(s: RunState, ws: LocalWorkspace) {
  const w = await checkWarm(ws, s.warmStack, s.sso, s.deps);
  // Its exposed services and its tests join the slot network; nothing else of another run's.
  if (w.view.read?.ok) {
    s.slot = await claimRunSlot(s.docker, s.leases, s.names.runId, s.warmStack, w.view.read.proxy);
    s.report.slot = s.slot;
  }
  for (const n of w.notes) s.say(n);
  s.report.warnings.push(...w.notes);
  return w;
}

/** Settings, the recipe's own copy, the run's config and plan: every problem before anything exists. */
async function validate(s: RunState, warm: Awaited<ReturnType<typeof warmCheck>>): Promise<Validated> {
  const { args, report } = s;
  const defaults = readRunDefaults(args.defaultsFile, args.catalogue);
  const settings = readWarmSettings(path.join(s.env.projectDir, "Pulumi.warm.yaml"));
  const copy = copyRecipe(s.recipeDir, s.copyDir, args.ref);
  for (const skipped of copy.skipped)
    report.warnings.push(`${skipped}: not a regular file or folder; left out of the run's copy`);
  if (args.ref !== undefined && copy.source === "folder")
    report.warnings.push(
      `${s.recipeDir} is not in a git repository: --ref ${args.ref} labels the run, the folder is tested as it is`,
    );
  const req: RunRequest = {
    names: s.names,
    owner: ownerId(s.env.backendUrl),
    recipeDir: copy.dir,
    recipe: report.recipe,
    pr: args.pr,
    ref: args.ref,
    variant: args.variant,
    quick: args.quick,
    sso: s.sso,
    deps: s.deps,
    deployTimeout: args.deployTimeout,
    proxyNetwork: s.slot,
    oidcClientSecret: args.oidcClientSecret,
  };
  const ports = await freeRunPorts();
  const target = { ...prepareRun(req, warm.view, settings, defaults, ports), defaults };
  if (args.upgradeFrom === undefined) return target;
  // An upgrade test: the base release deployed first, in the same stack (same names and ports).
  const from = upgradeBase(s.recipeDir, args.upgradeFrom, args.ref);
  const baseDir = `${s.copyDir}-base`;
  const baseCopy = copyRecipe(s.recipeDir, baseDir, from);
  if (baseCopy.source !== "git")
    throw new ValidationError("run", [
      {
        path: "--upgrade-from",
        message: `${s.recipeDir} is not in a git repository: there is no ${from} to upgrade from`,
      },
    ]);
  const base = {
    ...prepareRun({ ...req, recipeDir: baseCopy.dir }, warm.view, settings, defaults, ports),
    defaults,
  };
  s.upgrade = { from, baseDir, base, target };
  // setUp reports the base's warnings; the pull request's are the ones its maintainer acts on.
  report.warnings.push(...target.model.warnings.map((w) => `after the upgrade: ${w}`));
  return base;
}

/** The realm (warm Keycloak) and the stack, made side by side; each recorded for teardown. */
async function realmAndStack(s: RunState, ws: LocalWorkspace, v: Validated): Promise<void> {
  const sso = v.plan.sso;
  s.realmMade = sso.mode === "warm";
  const [realm, created] = await Promise.allSettled([
    sso.mode === "warm"
      ? s.clock.run("realm", () => makeRunRealm(sso.keycloak, s.names, s.warmStack, s.claims, v.config.owner))
      : Promise.resolve(undefined),
    s.clock.run("stack-create", () => createRunStack(ws, s.names.stack, v.stackConfig)),
  ]);
  if (created.status === "fulfilled") s.stack = created.value;
  if (realm.status === "fulfilled" && realm.value) {
    s.report.realmFrom = realm.value.from;
    s.say(`realm ${s.names.realm}: ${realm.value.from === "pool" ? "claimed from the pool" : "created"}`);
    s.topUp = realm.value.topUp;
  }
  if (realm.status === "rejected") throw realm.reason;
  if (created.status === "rejected") throw created.reason;
}

/** From the first task on, the run's disk is watched against its budget; over it, the run stops. */
function watchRunDisk(s: RunState, v: Validated): void {
  s.disk = watchDisk(
    s.docker,
    s.names.runId,
    bytes(v.config.limits.disk),
    (e) => {
      s.overBudget = e;
      s.say(e.message);
      s.signals.abort.abort(e);
    },
    undefined,
    v.plan.deps,
  );
}

/** How converged the services must be: --quick takes one second of stability for the operator's stableSeconds. */
export function convergeRules(v: Pick<Validated, "defaults" | "plan">): Validated["defaults"]["converge"] {
  const c = v.defaults.converge;
  return v.plan.quick ? { ...c, stableSeconds: Math.min(c.stableSeconds, QUICK_STABLE_SECONDS) } : c;
}

/** Seconds of stability a --quick run's services need (a task that crashes at once still shows). */
export const QUICK_STABLE_SECONDS = 1;

/** Converged services, then the app through Traefik and the realm's issuer, where there are any. */
async function waitReady(s: RunState, v: Validated): Promise<void> {
  const { clock, signals } = s;
  const convergeMs = deployTimeoutOf(v.config, v.model) * 1000;
  const converged = await clock.run("converge", () =>
    waitConverged(s.docker, s.names.runId, convergeMs, signals.abort.signal, convergeRules(v)),
  );
  const started = Date.parse(s.report.startedAt);
  s.report.services = converged.map((p) => ({
    service: p.service,
    ...(p.upSince ? { upAfterMs: Math.max(0, p.upSince - started) } : {}),
  }));
  stopIfAborted(s);
  const readyMs = v.defaults.readyTimeout * 1000;
  const proxy = { httpPort: v.plan.proxy.httpPort, httpsPort: v.plan.proxy.httpsPort };
  // The app, and each catalogue recipe it depends on, that routes anything through Traefik.
  const routes = (m: RecipeModel | undefined) => (m?.services ?? []).some((x) => x.routers.length > 0);
  const urls = [
    ...(routes(v.model) ? [v.plan.appUrl] : []),
    ...v.plan.deps.flatMap((d) => (d.kind === "recipe" && routes(v.depModels[d.name]) ? [d.url] : [])),
  ];
  if (urls.length > 0)
    await clock.run("reachable", () =>
      Promise.all(urls.map((u) => waitReachable(u, proxy, readyMs, signals.abort.signal))).then(
        () => undefined,
      ),
    );
  else clock.skip("reachable", "the recipe routes nothing through Traefik");
  const oidc = s.outputs?.oidc?.value as { issuer: string } | undefined;
  if (oidc)
    await clock.run("sso-ready", () => waitSsoReady(oidc.issuer, proxy, readyMs, signals.abort.signal));
  else clock.skip("sso-ready", "SSO is off");
}
