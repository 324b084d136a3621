/**
 * Past one machine, for real: a swarm of at least three nodes (this host's engine, the manager, and
 * worker engines in network namespaces: scripts/env/nodes.sh --nodes 3), two cc-ci agents on one
 * PostgreSQL state backend. Runs are kept off the manager by the operator's placement (run defaults),
 * so Traefik on the manager reaches them over the overlay; each run's volume is made on the worker its
 * task lands on, and must be found and removed there. Then a worker is stopped in the middle of a run:
 * the run ends clearly, saying which node it could not check; once the node is back, `audit --reap`
 * removes what was left on it and both agents' audits are clean.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { audit } from "../../automation/audit";
import { dockerClient, nodeEngines } from "../../automation/docker";
import { loadEnv } from "../../automation/env";
import { LABELS } from "../../lib/naming";
import { warmDestroy, warmUp } from "../../automation/warm";
import { listStacks } from "../../automation/workspace";
import { agentCcciRun, agentEnv, rows } from "../e2e/agents";
import { E2E_HOME, ROOT, example, logTo, traefikOnlyLayer } from "../e2e/harness";
import { describeE2E } from "../e2e/prereq";

const URL_FILE = path.join(E2E_HOME, "postgres.url");
const NODES_SH = path.join(ROOT, "scripts", "env", "nodes.sh");
const STACK = "warm-mn-e2e";
const TTL_S = 6;
const FIXTURE = path.join(__dirname, "fixtures", "on-workers");
const docker = dockerClient();
/** A worker a test stopped and has not started again (afterAll brings it back). */
let stopped = "";

/** The swarm as the manager sees it. */
async function swarmNodes() {
  return (await docker.listNodes()).map((n) => ({
    id: n.ID as string,
    hostname: n.Description?.Hostname ?? "",
    role: n.Spec?.Role ?? "",
    state: n.Status?.State ?? "",
    engine: n.Spec?.Labels?.["cc-ci.engine"],
  }));
}

/** Every container and volume of the given runs, on every node whose engine answers. */
async function runThings(runIds: string[]): Promise<string[]> {
  const { others } = await nodeEngines(docker);
  const out: string[] = [];
  for (const [node, d] of [["manager", docker] as const, ...others.map((e) => [e.node, e.docker] as const)]) {
    for (const id of runIds) {
      const filters = JSON.stringify({ label: [`${LABELS.run}=${id}`] });
      for (const c of await d.listContainers({ all: true, filters }))
        out.push(`${node}: container ${c.Names[0]}`);
      for (const v of (await d.listVolumes({ filters })).Volumes ?? []) out.push(`${node}: volume ${v.Name}`);
    }
  }
  return out;
}

const missing: string[] = [];
if (!existsSync(URL_FILE)) missing.push(`${URL_FILE} (scripts/env/postgres.sh)`);

describeE2E("a multi-node swarm with two agents on shared state", () => {
  const url = existsSync(URL_FILE) ? `${readFileSync(URL_FILE, "utf8").trim()}&table=multinode_state` : "";
  const a = agentEnv("mn-a", url, { CC_CI_LEASE_TTL_S: String(TTL_S) });
  const b = agentEnv("mn-b", url, { CC_CI_LEASE_TTL_S: String(TTL_S) });
  const envA = loadEnv(a);
  const envB = loadEnv(b);
  const defaults = path.join(E2E_HOME, "multinode-defaults.yaml");
  const settings = traefikOnlyLayer("mn", 6, 18086);
  const reapAll = (e = envA) =>
    audit(e, { reap: true, graceMs: 0, maxAgeMs: 1, drift: false, warmStack: STACK });

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`the multi-node suite needs ${missing.join("; ")}`);
    const nodes = await swarmNodes();
    const workers = nodes.filter((n) => n.role === "worker" && n.state === "ready" && n.engine);
    if (workers.length < 2)
      throw new Error(
        `the multi-node suite needs a swarm of at least 3 nodes (scripts/env/nodes.sh --nodes 3); it has ${nodes.map((n) => `${n.hostname} (${n.role}, ${n.state})`).join(", ")}`,
      );
    // The operator's placement: runs on workers only.
    writeFileSync(defaults, 'placement: ["node.role == worker"]\n');
    if ((await listStacks(envA)).length > 0) await reapAll();
    await warmUp(STACK, envA, settings, logTo("warm-mn"));
  }, 600_000);

  afterAll(async () => {
    if (missing.length > 0) return;
    if (stopped) execFileSync(NODES_SH, ["--start", stopped], { stdio: "ignore" });
    await reapAll();
    if ((await listStacks(envA)).some((s) => s.name.endsWith(STACK)))
      await warmDestroy(STACK, envA, true, logTo("warm-mn"));
    for (const v of [a, b]) rmSync(v.CC_CI_HOME as string, { recursive: true, force: true });
  }, 600_000);

  test("four runs from two agents land on the workers, pass through the manager's Traefik, and leave nothing on any node", async () => {
    const placed = new Set<string>();
    let watching = true;
    const names = new Map((await swarmNodes()).map((n) => [n.id, n.hostname]));
    const watcher = (async () => {
      while (watching) {
        const tasks = await docker
          .listTasks({ filters: JSON.stringify({ label: [LABELS.run] }) })
          .catch(() => []);
        for (const t of tasks as { NodeID?: string }[])
          if (t.NodeID) placed.add(names.get(t.NodeID) ?? t.NodeID);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const recipes = [FIXTURE, example("web"), FIXTURE, example("web")];
    const runs = [a, a, b, b].map((v, i) => agentCcciRun(v, recipes[i], STACK, ["--defaults", defaults]));
    const results = await Promise.all(runs.map((r) => r.done()));
    watching = false;
    await watcher;
    const why = results.map((r, i) => `exit ${r.code}: ${runs[i].output().slice(-1500)}`).join("\n---\n");
    expect({ codes: results.map((r) => r.code), why }).toEqual({ codes: [0, 0, 0, 0], why });
    const workers = (await swarmNodes()).filter((n) => n.role === "worker").map((n) => n.hostname);
    // Every task of the runs was on a worker, and more than one worker was used.
    expect([...placed].every((n) => workers.includes(n))).toBe(true);
    expect(placed.size).toBeGreaterThanOrEqual(2);
    const ids = results.map((r) => r.report?.runId as string);
    expect(await runThings(ids)).toEqual([]);
  }, 900_000);

  test("a worker stopped mid-run: the run ends clearly; once it is back the audit reaps what it held and is clean", async () => {
    // A test that watches the app: when its node goes, the app goes, and the test fails.
    const watch = [
      "sh",
      "-c",
      'while curl -fsS --max-time 5 --resolve "$CI_CURL_RESOLVE" "$CI_APP_URL" >/dev/null; do sleep 1; done; echo "the app stopped answering"; exit 3',
    ];
    const victim = agentCcciRun(b, FIXTURE, STACK, [
      "--defaults",
      defaults,
      "--test-timeout",
      "300",
      "--",
      ...watch,
    ]);
    const deadline = Date.now() + 300_000;
    while (!/\] test\b|sandbox/.test(victim.output()) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 250));
    const runId = /\[([a-z0-9]+-[0-9a-f]{6})\]/.exec(victim.output())?.[1] as string;
    expect(runId).toBeTruthy();
    // The worker its app runs on goes away while its tests run.
    const tasks = (await docker.listTasks({
      filters: JSON.stringify({ label: [`${LABELS.run}=${runId}`], "desired-state": ["running"] }),
    })) as { NodeID?: string }[];
    const host = (await swarmNodes()).find((n) => n.id === tasks[0]?.NodeID)?.hostname ?? "";
    expect(host).toMatch(/^ccci-node\d$/);
    stopped = host.replace(/^ccci-/, "");
    execFileSync(NODES_SH, ["--stop", stopped], { stdio: "ignore" });
    const mine = await victim.done();
    expect(mine.report).toBeDefined();
    // It failed, and said so: its test saw the app go, and verify names the node it could not check.
    expect(mine.code).not.toBe(0);
    expect(mine.report?.warnings.join("\n")).toMatch(new RegExp(`node ${host} .* could not be checked`));

    // While the node is away, an audit says what it cannot see.
    const blind = await audit(envA, { drift: false, warmStack: STACK });
    expect(blind.clean).toBe(false);
    expect(blind.errors.join("\n")).toMatch(new RegExp(`node ${host} is `));

    // Back: the worker rejoins; the audit reaps what the run left there.
    execFileSync(NODES_SH, ["--start", stopped], { stdio: "ignore" });
    stopped = "";
    const back = Date.now() + 120_000;
    while ((await swarmNodes()).find((n) => n.hostname === host)?.state !== "ready" && Date.now() < back)
      await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < 20; i++) {
      await reapAll(envA);
      await reapAll(envB);
      if ((await audit(envA, { drift: false, warmStack: STACK })).clean) break;
      await new Promise((r) => setTimeout(r, 3000));
    }
    for (const e of [envA, envB]) {
      const r = await audit(e, { drift: false, warmStack: STACK });
      expect({ clean: r.clean, errors: r.errors, stacks: r.stacks, docker: r.residue.docker }).toMatchObject({
        clean: true,
        errors: [],
        stacks: [],
        docker: [],
      });
    }
    expect(await runThings([runId])).toEqual([]);
    expect(await rows(url, "SELECT run_id FROM ccci_leases_multinode_state")).toEqual([]);
  }, 900_000);
});
