/**
 * The run's first phase and its signals, on their own: what a run holds from its first moment (a
 * lease, handlers) and what it refuses before holding anything (a name that cannot be a stack, a
 * lease store that does not answer).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { loadEnv } from "../../automation/adapters/env";
import { watchSignals } from "../../automation/commands/run/signals";
import { startRun } from "../../automation/commands/run/start";
import { stopIfAborted, type RunState } from "../../automation/commands/run/state";

const quiet = () => undefined;

describe("the run's signals", () => {
  test("the first SIGTERM aborts the run, a second is counted and does not abandon the teardown; detach removes the handlers", () => {
    const before = process.listenerCount("SIGTERM");
    const said: string[] = [];
    const w = watchSignals((l) => said.push(l), { handleSignals: true });
    expect(process.listenerCount("SIGTERM")).toBe(before + 1);
    // The handler it installed, called as the process would (emitting the signal itself would also
    // run whatever else of the test worker listens to it).
    const handler = process.listeners("SIGTERM").at(-1) as (sig: NodeJS.Signals) => void;
    handler("SIGTERM");
    expect({ aborted: w.abort.signal.aborted, count: w.count() }).toEqual({ aborted: true, count: 1 });
    handler("SIGTERM");
    expect(w.count()).toBe(2);
    expect(said).toEqual([
      "SIGTERM: stopping and tearing down",
      "SIGTERM again: teardown continues (it must, or the run leaves residue)",
    ]);
    w.detach();
    expect(process.listenerCount("SIGTERM")).toBe(before);
  });

  test("a caller's AbortSignal stops the run as SIGTERM would, without process handlers", () => {
    const before = process.listenerCount("SIGINT");
    const caller = new AbortController();
    const w = watchSignals(quiet, { handleSignals: false, signal: caller.signal });
    expect(process.listenerCount("SIGINT")).toBe(before);
    const s = { signals: w } as unknown as RunState;
    expect(() => stopIfAborted(s)).not.toThrow();
    caller.abort();
    expect(w.count()).toBe(1);
    expect(() => stopIfAborted(s)).toThrow("interrupted");
  });
});

describe("the run's start", () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(path.join(tmpdir(), "ccci-start-"));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));
  const env = (extra: Record<string, string> = {}) =>
    loadEnv({ CC_CI_HOME: home, PULUMI_CONFIG_PASSPHRASE: "x", ...extra });

  test("a recipe name with no letter or digit to name a run after: invalid (exit 2) before any lease", async () => {
    const r = await startRun({ recipeDir: "/nowhere", recipe: "--!--" }, env(), quiet);
    expect("report" in r && { outcome: r.report.outcome, exitCode: r.report.exitCode }).toEqual({
      outcome: "invalid",
      exitCode: 2,
    });
    expect(existsSync(path.join(home, "leases"))).toBe(false);
  });

  test("a lease store that does not answer: setup-failed (exit 80), naming where, nothing created", async () => {
    const r = await startRun(
      { recipeDir: "/nowhere", recipe: "web", hex: "abc123" },
      env({ PULUMI_BACKEND_URL: "postgres://u:p@127.0.0.1:1/state" }),
      quiet,
    );
    if (!("report" in r)) throw new Error("the run started without a lease");
    expect({ outcome: r.report.outcome, exitCode: r.report.exitCode }).toEqual({
      outcome: "setup-failed",
      exitCode: 80,
    });
    expect(r.report.error).toMatch(
      /^cannot hold the run's lease in PostgreSQL 127\.0\.0\.1:1\/state: .*; nothing was created$/,
    );
  });

  test("a started run holds its lease from the first moment, until it gives it back", async () => {
    const r = await startRun(
      { recipeDir: "/somewhere/web", hex: "abc123", handleSignals: false },
      env(),
      quiet,
    );
    if (!("state" in r)) throw new Error(`the run did not start: ${r.report.error}`);
    const s = r.state;
    expect({ runId: s.names.runId, recipe: s.report.recipe, sso: s.sso, warmStack: s.warmStack }).toEqual({
      runId: "web-abc123",
      recipe: "web",
      sso: "auto",
      warmStack: "warm",
    });
    expect(s.copyDir).toBe(path.join(home, "runs", "web-abc123", "recipe"));
    expect(readdirSync(path.join(home, "leases"))).toEqual([expect.stringContaining("web-abc123")]);
    await s.lease.release();
    await s.leases.close();
    expect(readdirSync(path.join(home, "leases")).filter((f) => f.includes("web-abc123"))).toEqual([]);
  });
});
