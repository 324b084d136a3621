/**
 * Shared state, for real: two cc-ci agents — separate processes with separate homes and agent names,
 * as separate hosts would be — on one PostgreSQL state backend (Pulumi's `postgres://`, on Debian's
 * PostgreSQL started by scripts/env/postgres.sh). They run side by side on one warm layer without
 * sharing a slot network; when one agent is killed in the middle of a run, the other's audit leaves
 * the run alone while its lease's heartbeat is fresh, and reaps it once the heartbeat lapses — no PID
 * of the other agent is read. Afterwards both agents' audits are clean and no lease or claim is left.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { audit } from "../../automation/commands/audit";
import { loadEnv, type CcciEnv } from "../../automation/adapters/env";
import type { RunReport } from "../../automation/commands/run/report";
import { warmUp } from "../../automation/commands/warm";
import { listStacks } from "../../automation/adapters/pulumi";
import { agentEnv, agentCcciRun, rows } from "./agents";
import { describeE2E } from "./prereq";
import { E2E_HOME, destroyWarm, dropSettings, example, logTo, traefikOnlyLayer } from "./harness";

const URL_FILE = path.join(E2E_HOME, "postgres.url");
const STACK = "warm-shared-e2e";
const TTL_S = 6;
const agentVars = (name: string, url: string) => agentEnv(name, url, { CC_CI_LEASE_TTL_S: String(TTL_S) });
const agentRun = (vars: NodeJS.ProcessEnv, extra: string[]) =>
  agentCcciRun(vars, example("web"), STACK, extra);
const haveUrl = existsSync(URL_FILE);
if (!haveUrl) {
  const why = `shared-state suite needs ${URL_FILE} (scripts/env/postgres.sh --db ccci_e2e --url-file ${URL_FILE}; setup.sh runs it)`;
  if (process.env.CI) {
    describe("shared state on PostgreSQL", () => {
      test("has its prerequisites", () => {
        throw new Error(why);
      });
    });
  } else console.warn(`SKIPPED: ${why}`);
}

(haveUrl ? describeE2E : () => undefined)("shared state on PostgreSQL", () => {
  const url = haveUrl ? readFileSync(URL_FILE, "utf8").trim() : "";
  const a = agentVars("a", url);
  const b = agentVars("b", url);
  const envA: CcciEnv = loadEnv(a);
  const envB: CcciEnv = loadEnv(b);
  const settings = traefikOnlyLayer("shared", 4, 18084);

  beforeAll(async () => {
    // What an interrupted earlier suite left in this database: its runs reaped, its layer destroyed.
    if ((await listStacks(envA)).length > 0) {
      await audit(envA, { reap: true, graceMs: 0, maxAgeMs: 1, drift: false, warmStack: STACK });
      if ((await listStacks(envA)).some((s) => s.name.endsWith(STACK)))
        await destroyWarm(STACK, envA, logTo("warm-shared"));
    }
    await warmUp(STACK, envA, settings, logTo("warm-shared"));
  }, 300_000);

  afterAll(async () => {
    if (!haveUrl) return;
    // A failed test's runs first (this database is the suite's own), then the layer.
    await audit(envA, { reap: true, graceMs: 0, maxAgeMs: 1, drift: false, warmStack: STACK });
    if ((await listStacks(envA)).some((s) => s.name.endsWith(STACK)))
      await destroyWarm(STACK, envA, logTo("warm-shared"));
    dropSettings(STACK);
    for (const v of [a, b]) rmSync(v.CC_CI_HOME as string, { recursive: true, force: true });
  }, 300_000);

  test("the backend is PostgreSQL, and both agents see the one warm layer", async () => {
    const names = async (e: CcciEnv) => (await listStacks(e)).map((s) => s.name);
    expect(await names(envA)).toEqual(expect.arrayContaining([expect.stringMatching(/warm-shared-e2e$/)]));
    expect(await names(envB)).toEqual(await names(envA));
    expect(await rows(url, "SELECT 1 FROM pulumi_state LIMIT 1")).toHaveLength(1);
  });

  test("four runs at once from two agents: each passes on a slot network of its own, nothing is left", async () => {
    const runs = [a, a, b, b].map((v) => agentRun(v, []));
    const results = await Promise.all(runs.map((r) => r.done()));
    const why = results.map((r, i) => `exit ${r.code}: ${runs[i].output().slice(-1500)}`).join("\n---\n");
    expect({ codes: results.map((r) => r.code), why }).toEqual({ codes: [0, 0, 0, 0], why });
    const reports = results.map((r) => r.report as RunReport);
    expect(reports.map((r) => r.agent)).toEqual(["e2e-a", "e2e-a", "e2e-b", "e2e-b"]);
    // Claims are shared: no two runs of either agent had the same network.
    expect(new Set(reports.map((r) => r.slot)).size).toBe(4);
    expect(reports.every((r) => r.residue.docker.length === 0 && !r.residue.stack)).toBe(true);
    expect(await rows(url, "SELECT run_id FROM ccci_leases")).toEqual([]);
    expect(await rows(url, "SELECT slot FROM ccci_slot_claims")).toEqual([]);
  }, 600_000);

  test("an agent killed mid-run: the other's audit spares the run while its heartbeat is fresh, then reaps it", async () => {
    const victim = agentRun(b, ["--", "sleep", "600"]);
    const deadline = Date.now() + 240_000;
    while (!/\] test|sandbox/.test(victim.output()) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    const runId = /\[([a-z0-9]+-[0-9a-f]{6})\]/.exec(victim.output())?.[1] as string;
    expect(runId).toBeTruthy();
    process.kill(-(victim.child.pid as number), "SIGKILL");
    await victim.done();
    const killedAt = Date.now();

    // Right away: agent A cannot read agent B's PID; the lease (heartbeat < TTL) keeps the run live.
    const early = await audit(envA, { reap: true, graceMs: 0, drift: false, warmStack: STACK });
    const seen = early.stacks.find((s) => s.runId === runId);
    if (Date.now() - killedAt < TTL_S * 1000) {
      expect(seen).toMatchObject({ stale: false, reason: expect.stringMatching(/live run on e2e-b/) });
      expect(seen?.reaped).toBeFalsy();
    }

    // Once the heartbeat has lapsed, A's audit reaps it: stack, services, claim and lease.
    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + (TTL_S + 2) * 1000 - Date.now())));
    const reaped = await audit(envA, { reap: true, graceMs: 0, drift: false, warmStack: STACK });
    expect(reaped.stacks.find((s) => s.runId === runId)).toMatchObject({
      reaped: true,
      reason: expect.stringMatching(/agent \(e2e-b:\d+\) is gone/),
    });

    // What only the killed agent's own host can see (its plugin processes) its own audit ends; then
    // both agents' audits are clean, and no lease or claim of the run is left in the database.
    await audit(envB, { reap: true, graceMs: 0, drift: false, warmStack: STACK });
    for (const e of [envA, envB]) {
      const r = await audit(e, { drift: false, warmStack: STACK });
      expect({
        clean: r.clean,
        errors: r.errors,
        stacks: r.stacks,
        residue: r.residue,
        warm: r.warm,
      }).toMatchObject({
        clean: true,
        errors: [],
        stacks: [],
        residue: { docker: [], realms: [], processes: [] },
        warm: { exists: true, traefik: true, problems: [] },
      });
    }
    expect(await rows(url, "SELECT run_id FROM ccci_leases")).toEqual([]);
    expect(await rows(url, "SELECT slot FROM ccci_slot_claims")).toEqual([]);
  }, 600_000);
});
