/**
 * Setup, phase by phase: warm-check → validate → realm ∥ stack-create → up → converge → reachable →
 * sso-ready. Each phase records in the run's state what it made, so teardown undoes exactly that.
 */
import * as path from "node:path";
import type { LocalWorkspace } from "@pulumi/pulumi/automation";
import { readRunDefaults, readWarmSettings } from "../../../lib/config";
import { ownerId } from "../../../lib/naming";
import { deployTimeoutOf } from "../../../lib/runPlan";
import { bytes } from "../../../lib/units";
import { openWorkspace, type StackOutputs } from "../../adapters/pulumi";
import { waitConverged } from "./converge";
import { createRunStack, deployRun } from "./deploy";
import { watchDisk } from "./diskBudget";
import { checkWarm, claimRunSlot, freeRunPorts, prepareRun } from "./prepare";
import { waitReachable, waitSsoReady } from "./ready";
import { makeRunRealm } from "./realm";
import { copyRecipe } from "./recipeCopy";
import { stopIfAborted, type RunState, type Validated } from "./state";

/** The run set up: what validation made and the stack's outputs, for the tests. */
export async function setUp(s: RunState): Promise<{ validated: Validated; outputs: StackOutputs }> {
  const work = await openWorkspace(s.env, s.names.stack);
  s.work = work;
  const warm = await s.clock.run("warm-check", () => warmCheck(s, work.ws));
  s.validated = await s.clock.run("validate", () => validate(s, warm));
  const { plan, model } = s.validated;
  s.report.warnings.push(...plan.notes, ...model.warnings);
  Object.assign(s.report, { mode: plan.sso.mode, domain: plan.domain, appUrl: plan.appUrl });
  s.say(`SSO ${plan.sso.mode}; app at ${plan.appUrl}`);
  stopIfAborted(s);
  await realmAndStack(s, work.ws, s.validated);
  watchRunDisk(s, s.validated);
  s.outputs = await s.clock.run("up", () => deployRun(work.ws, s.names.stack, s.say, s.signals.abort.signal));
  stopIfAborted(s);
  await waitReady(s, s.validated);
  return { validated: s.validated, outputs: s.outputs };
}

/** The warm layer as it is now, and a network of the warm proxy's for this run alone. */
async function warmCheck(s: RunState, ws: LocalWorkspace) {
  const w = await checkWarm(ws, s.warmStack, s.sso);
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
  const defaults = readRunDefaults(args.defaultsFile);
  const settings = readWarmSettings(path.join(s.env.projectDir, "Pulumi.warm.yaml"));
  const copy = copyRecipe(s.recipeDir, s.copyDir, args.ref);
  for (const skipped of copy.skipped)
    report.warnings.push(`${skipped}: not a regular file or folder; left out of the run's copy`);
  if (args.ref !== undefined && copy.source === "folder")
    report.warnings.push(
      `${s.recipeDir} is not in a git repository: --ref ${args.ref} labels the run, the folder is tested as it is`,
    );
  const req = {
    names: s.names,
    owner: ownerId(s.env.backendUrl),
    recipeDir: copy.dir,
    recipe: report.recipe,
    pr: args.pr,
    ref: args.ref,
    sso: s.sso,
    deployTimeout: args.deployTimeout,
    proxyNetwork: s.slot,
    oidcClientSecret: args.oidcClientSecret,
  };
  return { ...prepareRun(req, warm.view, settings, defaults, await freeRunPorts()), defaults };
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
  s.disk = watchDisk(s.docker, s.names.runId, bytes(v.config.limits.disk), (e) => {
    s.overBudget = e;
    s.say(e.message);
    s.signals.abort.abort(e);
  });
}

/** Converged services, then the app through Traefik and the realm's issuer, where there are any. */
async function waitReady(s: RunState, v: Validated): Promise<void> {
  const { clock, signals } = s;
  const convergeMs = deployTimeoutOf(v.config, v.model) * 1000;
  await clock.run("converge", () => waitConverged(s.docker, s.names.runId, convergeMs, signals.abort.signal));
  stopIfAborted(s);
  const readyMs = v.defaults.readyTimeout * 1000;
  const proxy = { httpPort: v.plan.proxy.httpPort, httpsPort: v.plan.proxy.httpsPort };
  if (((s.outputs?.routers?.value ?? []) as unknown[]).length > 0)
    await clock.run("reachable", () => waitReachable(v.plan.appUrl, proxy, readyMs, signals.abort.signal));
  else clock.skip("reachable", "the recipe routes nothing through Traefik");
  const oidc = s.outputs?.oidc?.value as { issuer: string } | undefined;
  if (oidc)
    await clock.run("sso-ready", () => waitSsoReady(oidc.issuer, proxy, readyMs, signals.abort.signal));
  else clock.skip("sso-ready", "SSO is off");
}
