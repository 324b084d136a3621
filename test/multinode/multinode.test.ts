/**
 * Past one machine, for real: a swarm of at least three nodes (this host's engine, the manager, and
 * worker engines in network namespaces: scripts/env/nodes.sh --nodes 3), two cc-ci agents on one
 * PostgreSQL state backend. Runs are kept off the manager by the operator's placement (run defaults),
 * so Traefik on the manager reaches them over the overlay; each run's volume is made on the worker its
 * task lands on, and must be found and removed there. Then a worker is stopped in the middle of a run:
 * the run ends clearly, saying which node it could not check; once the node is back, `audit --reap`
 * removes what was left on it and both agents' audits are clean. Images reach the workers through the
 * warm layer's registry (seeded by the warm up; the workers' engines take it as their mirror): the
 * workers start without the runs' images and must pull them from it. Last, a worker whose engine is
 * gone, as an interrupted suite leaves it: setup's swarm step drops it, and nodes.sh brings it back.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { audit } from "../../automation/commands/audit";
import { dockerClient, nodeEngines } from "../../automation/adapters/docker";
import { loadEnv } from "../../automation/adapters/env";
import { LABELS } from "../../lib/naming";
import { warmUp } from "../../automation/commands/warm";
import { listStacks } from "../../automation/adapters/pulumi";
import { agentCcciRun, agentEnv, rows } from "../e2e/agents";
import {
  E2E_HOME,
  ROOT,
  destroyWarm,
  dropSettings,
  example,
  logTo,
  numberShapedBackend,
  traefikOnlyLayer,
} from "../e2e/harness";
import { describeE2E } from "../e2e/prereq";

const URL_FILE = path.join(E2E_HOME, "postgres.url");
const NODES_SH = path.join(ROOT, "scripts", "env", "nodes.sh");
const STACK = "warm-mn-e2e";
const TTL_S = 6;
const FIXTURE = path.join(__dirname, "fixtures", "on-workers");
const docker = dockerClient();
/** Where the workers' engines find the registry (scripts/env/nodes.sh: CC_CI_REGISTRY). */
const REGISTRY = process.env.CC_CI_REGISTRY ?? `${process.env.CC_CI_NODES_NET ?? "10.213.0"}.1:5000`;
const [REGISTRY_ADDR, REGISTRY_PORT] = REGISTRY.split(":");
/** What the runs run (cc-ci/whoami) and a shell to probe from a worker (cc-ci/debian). */
const SEED = ["cc-ci/whoami:1", "cc-ci/debian:bookworm"];
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
  // A state table chosen so the backend's owner id reads as a number (issue 19: every run of such a
  // backend failed on the one machine in ~125 whose generated password hashed that way).
  const url = existsSync(URL_FILE)
    ? numberShapedBackend((i) => `${readFileSync(URL_FILE, "utf8").trim()}&table=multinode_state_${i}`)
    : "";
  const a = agentEnv("mn-a", url, { CC_CI_LEASE_TTL_S: String(TTL_S) });
  const b = agentEnv("mn-b", url, { CC_CI_LEASE_TTL_S: String(TTL_S) });
  const envA = loadEnv(a);
  const envB = loadEnv(b);
  const defaults = path.join(E2E_HOME, "multinode-defaults.yaml");
  const settings = {
    ...traefikOnlyLayer("mn", 6, 18086),
    registry: {
      enabled: true,
      image: "cc-ci/registry:2.8",
      address: REGISTRY_ADDR,
      port: Number(REGISTRY_PORT),
      seed: SEED,
    },
  };
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
    // The workers start without the images: they must come through the registry.
    for (const { docker: d } of (await nodeEngines(docker)).others)
      for (const image of SEED)
        await d
          .getImage(image)
          .remove({ force: true })
          .catch(() => undefined);
    await warmUp(STACK, envA, settings, logTo("warm-mn"));
  }, 600_000);

  afterAll(async () => {
    if (missing.length > 0) return;
    if (stopped) execFileSync(NODES_SH, ["--start", stopped], { stdio: "ignore" });
    await reapAll();
    if ((await listStacks(envA)).some((s) => s.name.endsWith(STACK)))
      await destroyWarm(STACK, envA, logTo("warm-mn"));
    dropSettings(STACK);
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
    // The workers that ran them pulled the app's image from the warm layer's registry: it carries
    // the digest the registry gave it (an image loaded by hand has none).
    const served = (await (await fetch(`http://127.0.0.1:${REGISTRY_PORT}/v2/_catalog`)).json()) as {
      repositories: string[];
    };
    expect(served.repositories).toEqual(expect.arrayContaining(["cc-ci/whoami", "cc-ci/debian"]));
    for (const { node, docker: d } of (await nodeEngines(docker)).others.filter((e) => placed.has(e.node))) {
      const image = await d.getImage("cc-ci/whoami:1").inspect();
      expect({ node, digests: image.RepoDigests }).toEqual({
        node,
        digests: [expect.stringMatching(/^cc-ci\/whoami@sha256:[0-9a-f]{64}$/)],
      });
    }
  }, 900_000);

  test("the registry takes pushes unauthenticated, so no container reaches it: not a worker's, not the manager's", async () => {
    const probe = `exec 3<>/dev/tcp/${REGISTRY_ADDR}/${REGISTRY_PORT} && echo reached`;
    const workers = (await swarmNodes()).filter(
      (n) => n.role === "worker" && n.state === "ready" && n.engine,
    );
    expect(workers.length).toBeGreaterThanOrEqual(2);
    for (const [node, host] of [["manager", undefined], ...workers.map((n) => [n.hostname, n.engine])]) {
      const args = [
        ...(host ? ["-H", host] : []),
        "run",
        "--rm",
        "cc-ci/debian:bookworm",
        "timeout",
        "5",
        "bash",
        "-c",
        probe,
      ];
      let said: string;
      try {
        said = execFileSync("docker", args, {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
          timeout: 120_000,
        });
      } catch (e) {
        said = `refused (${String((e as { status?: number }).status)})`;
      }
      expect({ node, said }).toEqual({ node, said: expect.stringMatching(/^refused/) });
    }
    // …while the workers' engines do (the first test's pulls) and the CI host does.
    expect((await fetch(`http://${REGISTRY_ADDR}:${REGISTRY_PORT}/v2/`)).status).toBe(200);
  }, 300_000);

  test("an app on a worker reaches the CI domains through the manager's Traefik (an SSO back-channel), and nothing else of the manager's", async () => {
    const workers = (await swarmNodes()).filter(
      (n) => n.role === "worker" && n.state === "ready" && n.engine,
    );
    const request = (host: string, port: number) =>
      `exec 3<>/dev/tcp/${host}/${port} && printf 'GET / HTTP/1.0\\r\\nHost: nothing-here.${settings.domain}\\r\\n\\r\\n' >&3 && cat <&3`;
    // What the probe said, or why it failed: its exit status and its stderr (bash names a name it
    // could not resolve apart from a connection refused), so a failure here can be read.
    const inContainer = (engine: string, script: string) => {
      try {
        return execFileSync(
          "docker",
          ["-H", engine, "run", "--rm", "cc-ci/debian:bookworm", "timeout", "10", "bash", "-c", script],
          { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 },
        );
      } catch (e) {
        const { status, stderr } = e as { status?: number; stderr?: string };
        return `refused (${String(status)}): ${String(stderr ?? "").trim()}`;
      }
    };
    // CI once saw a worker's first probe fail at once (exit 1, in 0.4 s; not reproduced here, cause
    // unknown): up to three tries, 2 s apart, each in a new container, every answer kept for the
    // failure message, so a second one is read rather than guessed at.
    const reaches = async (engine: string, script: string) => {
      const said: string[] = [];
      for (let i = 0; i < 3; i++) {
        said.push(inContainer(engine, script));
        if (!said[i].startsWith("refused")) break;
        await new Promise((r) => setTimeout(r, 2000));
      }
      return said.join("\n--- tried again:\n");
    };
    const proxyPort = settings.traefik.httpPort;
    for (const w of workers) {
      // A name under the CI domain, as an app would call its Keycloak: Traefik answers (no such router: 404).
      const said = await reaches(w.engine as string, request(`sso.${settings.domain}`, proxyPort));
      expect({ node: w.hostname, said }).toEqual({
        node: w.hostname,
        said: expect.stringMatching(/HTTP\/1\.[01] 404 Not Found[\s\S]*404 page not found\s*$/),
      });
      // Only the proxy's ports are forwarded: the manager's registry, on the same address, is not.
      expect(
        inContainer(w.engine as string, request(`sso.${settings.domain}`, Number(REGISTRY_PORT))),
      ).toMatch(/^refused/);
    }
  }, 300_000);

  test("the registry within its disk budget: an audit says when it is over, --reap collects its garbage and keeps what the seed put there", async () => {
    const fits = await audit(envA, { drift: false, warmStack: STACK });
    expect(fits.warm.registry).toMatchObject({ answers: true, over: false });
    expect(fits.warm.registry?.usedBytes).toBeGreaterThan(10 * 2 ** 20); // cc-ci/whoami and cc-ci/debian
    const tight = { ...settings, registry: { ...settings.registry, diskBudget: "1m" } };
    try {
      await warmUp(STACK, envA, tight, logTo("warm-mn"));
      const over = await audit(envA, { drift: false, warmStack: STACK });
      expect(over.clean).toBe(false);
      expect(over.warm.problems.join("\n")).toMatch(
        /image registry: holds [\d.]+ MiB, over its disk budget of 1\.0 MiB \(cc-ci audit --reap brings it down\)/,
      );
      const reaped = await audit(envA, { reap: true, drift: false, warmStack: STACK });
      // Garbage collection keeps what the seed references: still over, and said so.
      expect(reaped.warm.registry).toMatchObject({ reaped: "garbage collected", over: true });
      expect(reaped.warm.problems.join("\n")).toMatch(/after it was garbage collected/);
      const tags = (await (
        await fetch(`http://127.0.0.1:${REGISTRY_PORT}/v2/cc-ci/whoami/tags/list`)
      ).json()) as {
        tags: string[];
      };
      expect(tags.tags).toContain("1");
    } finally {
      await warmUp(STACK, envA, settings, logTo("warm-mn"));
    }
    const back = await audit(envA, { drift: false, warmStack: STACK });
    expect({ registry: back.warm.registry?.over, problems: back.warm.problems }).toEqual({
      registry: false,
      problems: [],
    });
  }, 600_000);

  test("as a pull-through cache: a worker pulls an image only the remote registry has; over budget, --reap empties the cache", async () => {
    // The remote: a registry of its own on a port the host firewall lets containers reach (the
    // cache is a container too), holding an image the cache has never seen.
    const UPSTREAM = "ccci-mn-upstream";
    const port = 18555;
    const image = "cc-ci/nginx:bookworm";
    const sh = (...args: string[]) =>
      execFileSync("docker", args, { encoding: "utf8", timeout: 300_000, stdio: ["ignore", "pipe", "pipe"] });
    const workers = (await nodeEngines(docker)).others;
    const cache = {
      ...settings,
      registry: {
        ...settings.registry,
        seed: [],
        pullThrough: `http://${REGISTRY_ADDR}:${port}`,
        diskBudget: "1m",
      },
    };
    try {
      sh("rm", "-f", UPSTREAM);
      sh(
        "run",
        "-d",
        "--name",
        UPSTREAM,
        "-p",
        `127.0.0.1:${port}:5000`,
        "-p",
        `${REGISTRY_ADDR}:${port}:5000`,
        "cc-ci/registry:2.8",
      );
      sh("tag", image, `127.0.0.1:${port}/${image}`);
      for (let i = 0; ; i++) {
        try {
          sh("push", `127.0.0.1:${port}/${image}`);
          break;
        } catch (e) {
          if (i > 20) throw e;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      sh("rmi", `127.0.0.1:${port}/${image}`);
      await warmUp(STACK, envA, cache, logTo("warm-mn"));
      const worker = workers[0];
      await worker.docker
        .getImage(image)
        .remove({ force: true })
        .catch(() => undefined);
      // The worker's engine asks its mirror, the cache, which fetches it from the remote.
      await new Promise<void>((resolve, reject) => {
        // With a callback, dockerode answers through it (what pull returns then is not awaited).
        void worker.docker.pull(image, (err: Error | null, stream: NodeJS.ReadableStream) =>
          err
            ? reject(err)
            : worker.docker.modem.followProgress(stream, (e: Error | null) => (e ? reject(e) : resolve())),
        );
      });
      expect((await worker.docker.getImage(image).inspect()).RepoDigests).toEqual([
        expect.stringMatching(/^cc-ci\/nginx@sha256:/),
      ]);
      const cached = (await (await fetch(`http://127.0.0.1:${REGISTRY_PORT}/v2/_catalog`)).json()) as {
        repositories: string[];
      };
      expect(cached.repositories).toContain("cc-ci/nginx");
      // Over its budget, the cache is emptied (it refills from the remote on the next pulls).
      const reaped = await audit(envA, { reap: true, drift: false, warmStack: STACK });
      expect(reaped.warm.registry).toMatchObject({ reaped: "cache emptied" });
      expect(reaped.warm.registry?.usedBytes).toBeLessThan(2 ** 20);
    } finally {
      sh("rm", "-f", UPSTREAM);
      await warmUp(STACK, envA, settings, logTo("warm-mn"));
    }
    // Back to the seeded registry: seeded again (its storage was emptied), within budget.
    const back = await audit(envA, { drift: false, warmStack: STACK });
    expect({
      over: back.warm.registry?.over,
      answers: back.warm.registry?.answers,
      problems: back.warm.problems,
    }).toEqual({
      over: false,
      answers: true,
      problems: [],
    });
    const served = (await (await fetch(`http://127.0.0.1:${REGISTRY_PORT}/v2/_catalog`)).json()) as {
      repositories: string[];
    };
    expect(served.repositories).toEqual(expect.arrayContaining(["cc-ci/whoami", "cc-ci/debian"]));
  }, 600_000);

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
    // cc-ci's lease table is named after the state table (automation/adapters/leases/).
    const table = new URL(url).searchParams.get("table");
    expect(await rows(url, `SELECT run_id FROM ccci_leases_${table}`)).toEqual([]);
  }, 900_000);

  test("a worker whose engine is gone (a suite interrupted before nodes.sh --remove) is dropped by setup, and joins again with nodes.sh", async () => {
    const worker = (await swarmNodes()).find((n) => n.role === "worker" && n.state === "ready" && n.engine);
    expect(worker).toBeDefined();
    const { id, hostname } = worker as NonNullable<typeof worker>;
    stopped = hostname.replace(/^ccci-/, "");
    execFileSync(NODES_SH, ["--stop", stopped], { stdio: "ignore" });
    const down = Date.now() + 120_000;
    while ((await swarmNodes()).find((n) => n.id === id)?.state === "ready" && Date.now() < down)
      await new Promise((r) => setTimeout(r, 1000));
    // Setup's swarm step (what .ci/run starts with): the down worker whose engine does not answer goes.
    execFileSync(path.join(ROOT, "scripts", "env", "docker.sh"), { stdio: "ignore" });
    const after = await swarmNodes();
    expect(after.map((n) => n.id)).not.toContain(id);
    expect(after.filter((n) => n.state === "ready").length).toBeGreaterThanOrEqual(2);
    // Its engine, started again, still believes it is in the swarm: it leaves and joins anew.
    execFileSync(NODES_SH, ["--nodes", "3"], { stdio: "ignore" });
    stopped = "";
    const back = (await swarmNodes()).find((n) => n.hostname === hostname);
    expect({ state: back?.state, engine: back?.engine !== undefined, same: back?.id === id }).toEqual({
      state: "ready",
      engine: true,
      same: false,
    });
  }, 300_000);
});
