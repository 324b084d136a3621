/**
 * The run's first moment: its names (a recipe name that cannot make them is invalid, exit 2), then
 * its lease — from here on no audit mistakes it for residue; without a lease nothing is created
 * (exit 80) — then the signal handlers and the claims it may take.
 */
import * as path from "node:path";
import { runNames, WARM_STACK, type RunNames } from "../../../lib/naming";
import { dockerClient } from "../../adapters/docker";
import type { CcciEnv } from "../../adapters/env";
import { agentName, holdLease, leaseStore, runClaims } from "../../adapters/leases";
import { EXIT } from "./outcome";
import { PhaseClock, type RunReport } from "./report";
import { watchSignals } from "./signals";
import { artifactsDir, newReport, type RunArgs, type RunState } from "./state";

/** A started run's state, or the report of one that could not start (nothing was created). */
export type Started = { state: RunState } | { report: RunReport };

export async function startRun(args: RunArgs, env: CcciEnv, log: (l: string) => void): Promise<Started> {
  const started = Date.now();
  const clock = new PhaseClock();
  const recipeDir = path.resolve(args.recipeDir);
  const recipe = args.recipe ?? path.basename(recipeDir);
  let names: RunNames;
  try {
    names = runNames(recipe, args.hex);
  } catch (e) {
    const report = { ...newReport(recipe, undefined, started, clock), ...asked(args) };
    return {
      report: Object.assign(report, {
        outcome: "invalid",
        exitCode: EXIT.invalid,
        error: (e as Error).message,
      }),
    };
  }
  const say = (l: string) => log(`[${names.runId}] ${l}`);
  const report = { ...newReport(recipe, names, started, clock), ...asked(args) };
  report.agent = agentName();
  const leases = leaseStore(env);
  let lease: RunState["lease"];
  try {
    lease = await holdLease(leases, names.runId, names.stack, (e) =>
      say(`lease heartbeat to ${leases.where} failed (${e.message}); retrying`),
    );
  } catch (e) {
    await leases.close().catch(() => undefined);
    const error = `cannot hold the run's lease in ${leases.where}: ${(e as Error).message}; nothing was created`;
    return { report: Object.assign(report, { outcome: "setup-failed", exitCode: EXIT.setup, error }) };
  }
  const state: RunState = {
    args,
    env,
    names,
    recipeDir,
    report,
    clock,
    started,
    say,
    leases,
    lease,
    claims: runClaims(leases, names.runId),
    docker: dockerClient(),
    signals: watchSignals(say, args),
    copyDir: path.join(env.home, "runs", names.runId, "recipe"),
    warmStack: args.warmStack ?? WARM_STACK,
    // --quick: what auto would take warm must be warm (no cold fallback).
    sso: args.quick && (args.sso ?? "auto") === "auto" ? "warm" : (args.sso ?? "auto"),
    deps: args.quick && (args.deps ?? "auto") === "auto" ? "warm" : (args.deps ?? "auto"),
    realmMade: false,
    setupFailed: false,
    invalid: false,
    ...keeps(args, env, names),
  };
  return { state };
}

/** What the run was asked to test, as its report records it. */
function asked(args: RunArgs): Pick<RunReport, "pr" | "ref" | "variant" | "quick"> {
  return { pr: args.pr, ref: args.ref, variant: args.variant, ...(args.quick ? { quick: true } : {}) };
}

/** What the run keeps of its tests for people to read: their output, and where their /artifacts go. */
function keeps(args: RunArgs, env: CcciEnv, names: RunNames): Pick<RunState, "testOutput" | "testArtifacts"> {
  const dir = path.join(artifactsDir(args, env.home, names.runId), "test");
  return { testOutput: [], testArtifacts: { dir, copied: [], problems: [] } };
}
