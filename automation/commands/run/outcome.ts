/**
 * How a run ends: a pure function from what each phase did to the run's outcome and exit status,
 * so the rules are written (and tested) once. In order of precedence:
 *   2   the input was invalid (nothing was created);
 *   81  teardown failed or something of the run was left (whatever else happened: residue on a
 *       shared host is the operator's first concern);
 *   130 interrupted by a signal;
 *   80  setup failed (up, readiness, the sandbox);
 *   the test command's own status otherwise (0 when it passed, or when there was none).
 */
import type { Phase, RunReport } from "./report";

export const EXIT = { invalid: 2, setup: 80, teardown: 81, interrupted: 130 } as const;

export interface OutcomeInput {
  phases: readonly Phase[];
  /** The input was refused before anything was created. */
  invalid: boolean;
  /** Setup (anything before the tests) failed. */
  setupFailed: boolean;
  /** Signals received (SIGINT/SIGTERM or an abort). */
  signals: number;
  testExitCode?: number;
  residue: RunReport["residue"];
}

export function hasResidue(r: RunReport["residue"]): boolean {
  return r.docker.length > 0 || r.realm !== undefined || (r.units ?? []).length > 0 || r.stack === true;
}

export function runOutcome(i: OutcomeInput): { outcome: RunReport["outcome"]; exitCode: number } {
  if (i.invalid) return { outcome: "invalid", exitCode: EXIT.invalid };
  const teardownFailed =
    i.phases.some((p) => ["destroy", "stack-remove", "verify"].includes(p.name) && p.outcome === "failed") ||
    hasResidue(i.residue);
  if (teardownFailed) return { outcome: "teardown-failed", exitCode: EXIT.teardown };
  if (i.signals > 0) return { outcome: "interrupted", exitCode: EXIT.interrupted };
  if (i.setupFailed) return { outcome: "setup-failed", exitCode: EXIT.setup };
  if ((i.testExitCode ?? 0) !== 0) return { outcome: "failed", exitCode: i.testExitCode as number };
  return { outcome: "passed", exitCode: 0 };
}
