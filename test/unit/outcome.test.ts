/** How a run ends: the phases' outcomes → outcome and exit status, in the README's order of precedence. */
import { EXIT, runOutcome, type OutcomeInput } from "../../automation/commands/run/outcome";
import type { Phase } from "../../automation/commands/run/report";

const phase = (name: string, outcome: Phase["outcome"] = "ok"): Phase => ({
  name,
  start: "2026-11-29T00:00:00Z",
  durationMs: 1,
  outcome,
});
const clean = { docker: [] };
const base: OutcomeInput = { phases: [], invalid: false, setupFailed: false, signals: 0, residue: clean };

describe("run outcome", () => {
  test.each<[string, Partial<OutcomeInput>, string, number]>([
    [
      "everything passed",
      { phases: [phase("up"), phase("test"), phase("verify")], testExitCode: 0 },
      "passed",
      0,
    ],
    ["no test command", { phases: [phase("up"), phase("test", "skipped")] }, "passed", 0],
    ["the test failed with 7", { testExitCode: 7 }, "failed", 7],
    ["invalid input", { invalid: true, setupFailed: true }, "invalid", EXIT.invalid],
    [
      "setup failed",
      { setupFailed: true, phases: [phase("up", "failed"), phase("destroy")] },
      "setup-failed",
      EXIT.setup,
    ],
    ["a signal during up", { setupFailed: true, signals: 1 }, "interrupted", EXIT.interrupted],
    ["a signal during the tests", { signals: 1, testExitCode: 143 }, "interrupted", EXIT.interrupted],
    ["two signals", { signals: 2, setupFailed: true }, "interrupted", EXIT.interrupted],
    [
      "destroy failed",
      { phases: [phase("destroy", "failed")], testExitCode: 0 },
      "teardown-failed",
      EXIT.teardown,
    ],
    ["stack removal failed", { phases: [phase("stack-remove", "failed")] }, "teardown-failed", EXIT.teardown],
    [
      "a volume left",
      { residue: { docker: [{ kind: "volume", name: "v" }] } },
      "teardown-failed",
      EXIT.teardown,
    ],
    ["a realm left", { residue: { docker: [], realm: "r-abc123" } }, "teardown-failed", EXIT.teardown],
    [
      "a unit on a warm dependency left",
      { residue: { docker: [], units: ["postgres ccci_note_abc123_db"] } },
      "teardown-failed",
      EXIT.teardown,
    ],
    ["the stack left", { residue: { docker: [], stack: true } }, "teardown-failed", EXIT.teardown],
    [
      "residue beats a failed test",
      { testExitCode: 3, residue: { docker: [], stack: true } },
      "teardown-failed",
      EXIT.teardown,
    ],
    [
      "residue beats a signal",
      { signals: 1, residue: { docker: [], realm: "r" } },
      "teardown-failed",
      EXIT.teardown,
    ],
    [
      "invalid beats everything",
      { invalid: true, signals: 1, residue: { docker: [], stack: true } },
      "invalid",
      EXIT.invalid,
    ],
  ])("%s", (_, over, outcome, exitCode) => {
    expect(runOutcome({ ...base, ...over })).toEqual({ outcome, exitCode });
  });
});
