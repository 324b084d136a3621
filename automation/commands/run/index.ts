/**
 * The CI's entry point: one recipe run from a clean, isolated environment to nothing left behind,
 * as its phases in order — start (names, lease, signals) → setup (warm-check → validate → realm ∥
 * stack-create → up → converge → reachable → sso-ready) → test → teardown (destroy → stack-remove →
 * verify) — over one RunState (state.ts). Teardown happens whatever failed; a second SIGINT/SIGTERM
 * does not abandon it (signals.ts).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ValidationError } from "../../../lib/errors";
import { loadEnv, type CcciEnv } from "../../adapters/env";
import { pulumiErrorSummary } from "../../adapters/pulumi";
import { EXIT, runOutcome } from "./outcome";
import { summary, type RunReport } from "./report";
import { setUp } from "./setup";
import { startRun } from "./start";
import type { RunArgs, RunState } from "./state";
import { mask } from "./artifacts";
import { junitXml } from "./junit";
import { runPage } from "./page";
import { runMasks, tearDown } from "./teardown";
import { testPhase } from "./tests";

export { EXIT };
export type { RunArgs };

export async function ciRun(args: RunArgs, env: CcciEnv = loadEnv()): Promise<RunReport> {
  const log = args.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const started = await startRun(args, env, log);
  if ("report" in started) return finish(started.report, args, env, log);
  const s = started.state;
  try {
    const { validated, outputs } = await setUp(s);
    await testPhase(s, validated, outputs);
  } catch (e) {
    setupFailed(s, e);
  } finally {
    await tearDown(s);
  }
  const { report, clock } = s;
  Object.assign(
    report,
    runOutcome({
      phases: clock.phases,
      invalid: s.invalid,
      setupFailed: s.setupFailed,
      signals: s.signals.count(),
      testExitCode: report.testExitCode,
      residue: report.residue,
    }),
  );
  report.durationMs = Date.now() - s.started;
  return finish(report, args, env, log, s.testOutput, runMasks(s));
}

/** Setup (or the tests' sandbox) failed: why, in the report and the log; a broken recipe is invalid. */
function setupFailed(s: RunState, e: unknown): void {
  s.setupFailed = true;
  s.invalid = e instanceof ValidationError;
  // The app's own log lines may be in it (a service that keeps failing): the run's secrets masked.
  s.report.error = mask(s.overBudget?.message ?? pulumiErrorSummary(e, 4000), runMasks(s));
  if (e instanceof ValidationError) s.report.warnings.push(...e.warnings);
  s.say(`setup failed: ${s.report.error.split("\n")[0]}`);
}

function finish(
  report: RunReport,
  args: RunArgs,
  env: CcciEnv,
  log: (l: string) => void,
  testOutput: string[] = [],
  masks: string[] = [],
): RunReport {
  if (args.junitFile) {
    mkdirSync(path.dirname(path.resolve(args.junitFile)), { recursive: true });
    writeFileSync(args.junitFile, junitXml(report, testOutput, masks));
    report.junit = args.junitFile;
  }
  const file = args.reportFile ?? path.join(env.home, "runs", report.runId || "invalid", "report.json");
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(report, null, 2));
  // The page people open: beside the report, self-contained.
  const page = path.join(path.dirname(file), "report.html");
  writeFileSync(page, runPage(report));
  log(summary(report));
  log(`  report: ${file} (page: ${page})`);
  return report;
}
