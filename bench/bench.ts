/**
 * `npm run bench`: what the warm layer buys and what a run costs, measured side by side in one
 * invocation on this host, each figure as median and range over repetitions. Adds an entry (date,
 * machine, commit) at the top of bench/RESULTS.md, earlier entries kept below it.
 *
 *   npm run bench -- [--reps N] [--quick] [--only sso,deps,run,quick,concurrent,cpu,throughput,memory,audit,reap]
 *                    [--runs N] [--slots K,K…] [--json FILE]
 *
 * Needs the environment (scripts/env/setup.sh) and the warm layer (bin/cc-ci warm up). It is a
 * script that prints figures, not a timed test: the machine is shared and noisy, so ratios are
 * measured within one run.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { audit } from "../automation/commands/audit";
import { containerPart, cpuReport } from "./cpu";
import { depsReadiness } from "./deps";
import { throughput } from "./throughput";
import { requireOk, secs, stats, WEB_HEALTHCHECK } from "./figures";
import { dockerClient, runObjects } from "../automation/adapters/docker";
import { loadEnv } from "../automation/adapters/env";
import { isTraefikNotFound, viaProxy, waitFor } from "../automation/adapters/http";
import { provisioningAdmin } from "../automation/adapters/keycloak";
import { ciRun } from "../automation/commands/run";
import type { RunReport } from "../automation/commands/run/report";
import { warmStatus } from "../automation/commands/warm";
import { realmRepresentation } from "../lib/adoptedRealm";
import { newRunHex, RUN_ATTRIBUTE, runNames } from "../lib/naming";
import { homeName, readWarm, withWorkspace } from "../automation/adapters/pulumi";

const PARTS = [
  "sso",
  "deps",
  "run",
  "quick",
  "concurrent",
  "cpu",
  "throughput",
  "memory",
  "audit",
  "reap",
] as const;
type Part = (typeof PARTS)[number];

const { values: opts } = parseArgs({
  options: {
    reps: { type: "string", default: "5" },
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    json: { type: "string" },
    parallel: { type: "string", default: "4" },
    runs: { type: "string", default: "12" },
    slots: { type: "string", default: "2,4" },
  },
});
const RUNS = Number(opts.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs: a whole number ≥ 1, not ${opts.runs}`);
const SLOTS = opts.slots.split(",").map(Number);
if (SLOTS.some((k) => !Number.isInteger(k) || k < 1))
  throw new Error(`--slots: whole numbers ≥ 1, comma separated, not ${opts.slots}`);
const REPS = Number(opts.reps);
if (!Number.isInteger(REPS) || REPS < 1) throw new Error(`--reps: a whole number ≥ 1, not ${opts.reps}`);
const PARALLEL = Number(opts.parallel);
const ONLY = opts.only?.split(",").map((p) => p.trim()) ?? [...PARTS];
for (const p of ONLY)
  if (!(PARTS as readonly string[]).includes(p))
    throw new Error(`--only: unknown part ${p} (${PARTS.join(", ")})`);
const wants = (p: Part) => ONLY.includes(p);
const QUICK = opts.quick;
const env = loadEnv();
const docker = dockerClient();
const root = path.join(__dirname, "..");
const quiet = () => undefined;
const lines: string[] = [];
/** The machine-readable figures (`--json`): seconds unless the key says otherwise. */
const figures: Record<string, number | string | boolean> = {};
const say = (l: string) => {
  lines.push(l);
  process.stdout.write(`${l}\n`);
};

/**
 * From run start until the run's realm answers OIDC discovery through Traefik, polled every 100 ms
 * while the run deploys (the run goes on to deploy the app, which is not part of this figure).
 */
async function realmReadyMs(mode: "warm" | "cold", warm: WarmView): Promise<number> {
  const hex = newRunHex();
  const n = runNames("sso", hex);
  const host = mode === "warm" ? new URL(warm.keycloakUrl).host : `keycloak.${n.runId}.${warm.proxy.domain}`;
  const url = `http://${host}/realms/${n.realm}/.well-known/openid-configuration`;
  const t0 = Date.now();
  let ready = 0;
  let done = false;
  const run = ciRun(
    { recipeDir: path.join(root, "examples", "sso"), sso: mode, hex, handleSignals: false, log: quiet },
    env,
  );
  void run.then(() => (done = true));
  while (!ready && !done) {
    const a = await viaProxy(url, warm.proxy, { timeoutMs: 2000 }).catch(() => undefined);
    if (a?.status === 200) ready = Date.now() - t0;
    else await new Promise((r) => setTimeout(r, 100));
  }
  requireOk(await run);
  if (!ready) throw new Error(`the realm of ${n.runId} never answered at ${url}`);
  return ready;
}

interface WarmView {
  keycloakUrl: string;
  adminUrl: string;
  provisioning: { realm: string; clientId: string; clientSecret: string };
  proxy: { domain: string; network: string; httpPort: number; httpsPort: number };
}

async function warmView(): Promise<WarmView> {
  const status = await warmStatus("warm", env);
  const w = await withWorkspace(env, homeName("bench"), (ws) => readWarm(ws, "warm"));
  if (!status.keycloak || !w.read?.ok || !w.read.keycloak)
    throw new Error("the benchmarks need the warm layer (bin/cc-ci warm up)");
  const kc = w.read.keycloak;
  return {
    keycloakUrl: kc.publicUrl,
    adminUrl: kc.adminUrl,
    provisioning: kc.provisioning,
    proxy: { ...w.read.proxy, network: w.read.proxy.networks[0] },
  };
}

async function ssoReadiness(warm: WarmView): Promise<void> {
  say("\n### SSO readiness (run start → the run's realm answers OIDC discovery through Traefik)");
  const warmMs: number[] = [];
  const coldMs: number[] = [];
  for (let i = 0; i < REPS; i++) {
    // Side by side: one warm, one cold, alternating, so load drifts hit both.
    warmMs.push(await realmReadyMs("warm", warm));
    coldMs.push(await realmReadyMs("cold", warm));
  }
  const ws = stats(warmMs);
  const cs = stats(coldMs);
  say(
    `| path | time to SSO ready |\n| --- | --- |\n| warm realm | ${ws.text} |\n| cold Keycloak in the run | ${cs.text} |`,
  );
  const ratio = cs.med / ws.med;
  Object.assign(figures, {
    "sso.warm.median_s": secs(ws.med),
    "sso.cold.median_s": secs(cs.med),
    "sso.ratio": Math.round(ratio * 10) / 10,
    "sso.met": ws.med <= 3000 && ratio >= 10,
  });
  say(
    `ratio cold/warm (medians): ${ratio.toFixed(1)}× — target ≥ 10× and warm ≤ 3 s: ${figures["sso.met"] ? "met" : "**missed**"}`,
  );
}

/** The floor once: the same service and realm through the Docker and Keycloak APIs, no Pulumi. */
async function floorOnce(warm: WarmView): Promise<number> {
  const proxy = warm.proxy;
  const n = runNames("web");
  const t0 = Date.now();
  const kc = provisioningAdmin(warm);
  // The same realm, client and test user as a run's (created, not claimed from the pool).
  await kc.createRealm(realmRepresentation(n.realm, n.runId, RUN_ATTRIBUTE));
  const host = `${n.runId}.${proxy.domain}`;
  for (const [path, body] of [
    [
      `/realms/${n.realm}/clients`,
      { clientId: n.realm, publicClient: false, secret: "floor", redirectUris: [`http://${host}/*`] },
    ],
    [
      `/realms/${n.realm}/users`,
      {
        username: "ci-user",
        enabled: true,
        credentials: [{ type: "password", value: "floor-password", temporary: false }],
      },
    ],
  ] as const) {
    const res = await kc.call("POST", path, body);
    if (res.status !== 201) throw new Error(`floor: POST ${path}: ${res.status}`);
  }
  // The same service: the recipe's image, healthcheck and Traefik labels.
  const svc = await docker.createService({
    Name: `${n.stackName}_app`,
    Labels: {
      "cc-ci.run": n.runId,
      "traefik.enable": "true",
      [`traefik.http.routers.${n.stackName}.rule`]: `Host(\`${host}\`)`,
      [`traefik.http.routers.${n.stackName}.entrypoints`]: "web",
      [`traefik.http.services.${n.stackName}.loadbalancer.server.port`]: "80",
      "traefik.swarm.network": proxy.network,
    },
    TaskTemplate: {
      ContainerSpec: {
        Image: "cc-ci/whoami:1",
        Labels: { "cc-ci.run": n.runId },
        HealthCheck: WEB_HEALTHCHECK,
      },
      Networks: [{ Target: proxy.network }],
    },
    EndpointSpec: { Mode: "dnsrr" },
  });
  await waitFor(
    "floor app",
    120_000,
    async () => {
      const a = await viaProxy(`http://${host}/`, proxy);
      return !isTraefikNotFound(a) && a.status < 502;
    },
    250,
  );
  await docker.getService((svc as { id: string }).id).remove();
  await kc.deleteRealm(n.realm);
  // Nothing left, as a run's verify checks: its task's container gone too.
  await waitFor(
    "floor container gone",
    60_000,
    async () => (await runObjects(docker, n.runId)).length === 0,
    250,
  );
  return Date.now() - t0;
}

async function oneServiceRun(warm: WarmView): Promise<void> {
  say("\n### One-service run, phase by phase (examples/web, SSO on the warm layer)");
  const reports: RunReport[] = [];
  const floor: number[] = [];
  // Side by side: a run, then its floor, repeated, so load drifts hit both.
  for (let i = 0; i < REPS; i++) {
    reports.push(
      requireOk(
        await ciRun(
          { recipeDir: path.join(root, "examples", "web"), sso: "warm", handleSignals: false, log: quiet },
          env,
        ),
      ),
    );
    floor.push(await floorOnce(warm));
  }
  const names = reports[0].phases.map((p) => p.name);
  say("| phase | time |\n| --- | --- |");
  for (const n of names)
    say(`| ${n} | ${stats(reports.map((r) => r.phases.find((p) => p.name === n)?.durationMs ?? 0)).text} |`);
  const total = stats(reports.map((r) => r.durationMs));
  say(`| **total** | ${total.text} |`);
  for (const n of names)
    figures[`run.phase.${n}.median_s`] = secs(
      stats(reports.map((r) => r.phases.find((p) => p.name === n)?.durationMs ?? 0)).med,
    );

  const fs = stats(floor);
  say(
    `floor (same service and realm via the Docker and Keycloak APIs, until it answers, then removed): ${fs.text}`,
  );
  const ratio = total.med / fs.med;
  Object.assign(figures, {
    "run.median_s": secs(total.med),
    "run.floor_median_s": secs(fs.med),
    "run.ratio_to_floor": Math.round(ratio * 100) / 100,
    "run.met": ratio <= 2,
  });
  say(`ratio run/floor (medians): ${ratio.toFixed(1)}× — target ≤ 2×: ${ratio <= 2 ? "met" : "**missed**"}`);
}

/** `cc-ci run --quick` of the SSO example, end to end (start to nothing left), phase by phase. */
async function quickRun(): Promise<void> {
  say("\n### `cc-ci run --quick` of examples/sso (the warm layer only), end to end");
  const reports: RunReport[] = [];
  for (let i = 0; i < REPS; i++)
    reports.push(
      requireOk(
        await ciRun(
          { recipeDir: path.join(root, "examples", "sso"), quick: true, handleSignals: false, log: quiet },
          env,
        ),
      ),
    );
  const names = [...new Set(reports.flatMap((r) => r.phases.map((p) => p.name)))];
  say("| phase | time |\n| --- | --- |");
  for (const n of names)
    say(`| ${n} | ${stats(reports.map((r) => r.phases.find((p) => p.name === n)?.durationMs ?? 0)).text} |`);
  const total = stats(reports.map((r) => r.durationMs));
  say(`| **total** | ${total.text} |`);
  Object.assign(figures, { "quick.sso.median_s": secs(total.med), "quick.sso.met": total.med < 10_000 });
  say(`target < 10 s: ${total.med < 10_000 ? "met" : "**missed**"}`);
}

async function concurrency(): Promise<void> {
  say("\n### Concurrent runs (examples/sso on the warm layer): wall time");
  const wall: Record<number, number[]> = { 1: [], 2: [], 4: [] };
  for (let i = 0; i < REPS; i++) {
    for (const k of [1, 2, 4]) {
      const t0 = Date.now();
      const rs = await Promise.all(
        Array.from({ length: k }, () =>
          ciRun({ recipeDir: path.join(root, "examples", "sso"), handleSignals: false, log: quiet }, env),
        ),
      );
      rs.forEach(requireOk);
      wall[k].push(Date.now() - t0);
    }
  }
  const one = stats(wall[1]).med;
  say("| runs at once | wall time | ratio to one |\n| --- | --- | --- |");
  for (const k of [1, 2, 4]) {
    const st = stats(wall[k]);
    figures[`concurrent.${k}.median_s`] = secs(st.med);
    figures[`concurrent.${k}.ratio`] = Math.round((st.med / one) * 100) / 100;
    say(`| ${k} | ${st.text} | ${(st.med / one).toFixed(2)}× |`);
  }
  figures["concurrent.met"] = (figures["concurrent.4.ratio"] as number) <= 2;
  say(`target: 4 at once within 2× of one: ${figures["concurrent.met"] ? "met" : "**missed**"}`);
}

function warmMemoryMiB(): number {
  const out = execFileSync("docker", ["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"], {
    encoding: "utf8",
  });
  let mib = 0;
  for (const line of out.split("\n")) {
    const m = /^(\S+) ([\d.]+)(KiB|MiB|GiB)/.exec(line);
    if (!m || !m[1].startsWith("ccci_warm_")) continue;
    mib += Number(m[2]) * { KiB: 1 / 1024, MiB: 1, GiB: 1024 }[m[3] as "KiB" | "MiB" | "GiB"];
  }
  return mib;
}

async function memory(): Promise<void> {
  say("\n### Memory of the warm layer (sum over its containers, docker stats)");
  const rest: number[] = [];
  for (let i = 0; i < 3; i++) rest.push(warmMemoryMiB());
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, warmMemoryMiB());
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  await Promise.all(
    Array.from({ length: 4 }, () =>
      ciRun({ recipeDir: path.join(root, "examples", "sso"), handleSignals: false, log: quiet }, env),
    ),
  );
  sampling = false;
  await sampler;
  figures["memory.rest_mib"] = Math.round(Math.max(...rest));
  figures["memory.peak4_mib"] = Math.round(peak);
  say(`at rest: ${Math.max(...rest).toFixed(0)} MiB; peak during 4 concurrent runs: ${peak.toFixed(0)} MiB`);
}

/** Brings the number of run stacks up to n: failing runs kept for debugging, 4 at a time. */
async function keptStacks(n: number): Promise<void> {
  const have = (await audit(env, { drift: false })).stacks.length;
  for (let i = have; i < n; i += 4) {
    const batch = Math.min(4, n - i);
    await Promise.all(
      Array.from({ length: batch }, () =>
        ciRun(
          {
            recipeDir: path.join(root, "examples", "web"),
            sso: "off",
            testCommand: ["false"],
            keepOnFailure: true,
            handleSignals: false,
            log: quiet,
          },
          env,
        ),
      ),
    );
  }
}

async function auditTime(): Promise<void> {
  say("\n### Audit time over N run stacks (report only, no drift check)");
  for (const n of QUICK ? [20] : [20, 50]) {
    await keptStacks(n);
    const times: number[] = [];
    for (let i = 0; i < REPS; i++) times.push((await audit(env, { drift: false })).durationMs);
    const st = stats(times);
    figures[`audit.${n}.median_s`] = secs(st.med);
    say(
      `${n} stacks: ${st.text} — target for 50: ≤ 10 s${n === 50 ? (st.med <= 10_000 ? ": met" : ": **missed**") : ""}`,
    );
  }
}

async function reapTime(): Promise<void> {
  const n = QUICK ? 20 : 50;
  say(`\n### Reaping ${n} stale run stacks (\`cc-ci audit --reap\`, ${PARALLEL} at a time)`);
  await keptStacks(n);
  const before = (await audit(env, { drift: false })).stacks.length;
  const reap = await audit(env, { drift: false, reap: true, maxAgeMs: 1, graceMs: 0, parallel: PARALLEL });
  const reaped = reap.stacks.filter((s) => s.reaped).length;
  const failed = reap.stacks.filter((s) => s.error);
  figures[`reap.${n}.s`] = secs(reap.durationMs);
  say(
    `${reaped} of ${before} stacks reaped in ${secs(reap.durationMs).toFixed(1)} s (${(reap.durationMs / 1000 / Math.max(1, reaped)).toFixed(2)} s a stack)${n === 50 ? ` — target ≤ 60 s: ${reap.durationMs <= 60_000 ? "met" : "**missed**"}` : ""}`,
  );
  for (const f of failed) say(`- ${f.name}: ${f.error}`);
}

function commit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: root,
      encoding: "utf8",
    }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      cwd: root,
      encoding: "utf8",
    }).trim();
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  const started = new Date();
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 1024 ** 3).toFixed(0)} GiB`;
  Object.assign(figures, { date: started.toISOString(), machine, commit: commit(), reps: REPS });
  say(
    `## ${started.toISOString().slice(0, 10)} · ${machine} · commit ${figures.commit} · ${REPS} repetitions each · parts: ${ONLY.join(", ")}`,
  );
  const warm = await warmView();
  if (wants("sso")) await ssoReadiness(warm);
  if (wants("deps")) await depsReadiness(REPS, env, docker, say, figures);
  if (wants("run")) await oneServiceRun(warm);
  if (wants("quick")) await quickRun();
  if (wants("concurrent")) await concurrency();
  const sso = async () => {
    requireOk(
      await ciRun({ recipeDir: path.join(root, "examples", "sso"), handleSignals: false, log: quiet }, env),
    );
  };
  if (wants("cpu")) await cpuReport({ docker, say, figures, run: sso });
  if (wants("throughput"))
    await throughput(RUNS, SLOTS, { docker, classify: containerPart, say, figures, run: sso });
  if (wants("memory")) await memory();
  if (wants("audit")) await auditTime();
  if (wants("reap")) await reapTime();
  finish(started);
}

const HEADER =
  "# cc-ci benchmarks\n\nNewest first; every entry names its date, machine and commit. `npm run bench` adds one at the top.\n";

function finish(started: Date): void {
  const argv = process.argv.slice(2).join(" ");
  say(
    `\n(${((Date.now() - started.getTime()) / 60000).toFixed(0)} min in all; \`npm run bench${argv ? ` -- ${argv}` : ""}\`)`,
  );
  figures.duration_s = secs(Date.now() - started.getTime());
  const file = path.join(__dirname, "RESULTS.md");
  const old = existsSync(file) ? readFileSync(file, "utf8") : "";
  const earlier = old.includes("\n## ") ? old.slice(old.indexOf("\n## ") + 1) : "";
  writeFileSync(file, `${HEADER}\n${lines.join("\n")}\n\n${earlier}`);
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify(figures, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
