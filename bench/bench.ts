/**
 * `npm run bench`: what the warm layer buys and what a run costs, measured side by side in one
 * invocation on this host, each figure as median and range over repetitions. Writes bench/RESULTS.md.
 *
 *   npm run bench -- [--reps N] [--quick]
 *
 * Needs the environment (scripts/env/setup.sh) and the warm layer (bin/cc-ci warm up). It is a
 * script that prints figures, not a timed test: the machine is shared and noisy, so ratios are
 * measured within one run.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import * as path from "node:path";
import { audit } from "../automation/audit";
import { dockerClient } from "../automation/docker";
import { loadEnv } from "../automation/env";
import { isTraefikNotFound, viaProxy, waitFor } from "../automation/http";
import { KeycloakAdmin } from "../automation/keycloakAdmin";
import { ciRun } from "../automation/run";
import type { RunReport } from "../automation/run/report";
import { warmStatus } from "../automation/warm";
import { newRunHex, runNames } from "../lib/naming";
import { homeName, readWarm, withWorkspace } from "../automation/workspace";

const args = process.argv.slice(2);
const REPS = Number(args[args.indexOf("--reps") + 1] || 3) || 3;
const QUICK = args.includes("--quick");
const env = loadEnv();
const docker = dockerClient();
const root = path.join(__dirname, "..");
const quiet = () => undefined;
const lines: string[] = [];
const say = (l: string) => {
  lines.push(l);
  process.stdout.write(`${l}\n`);
};

function stats(xs: number[]): { med: number; lo: number; hi: number; text: string } {
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  const f = (ms: number) => (ms / 1000).toFixed(2);
  return {
    med,
    lo: s[0],
    hi: s[s.length - 1],
    text: `${f(med)} s (${f(s[0])}–${f(s[s.length - 1])}, n=${s.length})`,
  };
}

function requireOk(r: RunReport): RunReport {
  if (r.outcome !== "passed") throw new Error(`run ${r.runId} ${r.outcome}: ${r.error ?? ""}`);
  return r;
}

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
  say("\n## SSO readiness (run start → the run's realm answers OIDC discovery through Traefik)");
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
  say(`ratio cold/warm (medians): ${(cs.med / ws.med).toFixed(1)}× — target ≥ 10× and warm ≤ 3 s`);
}

async function oneServiceRun(warm: WarmView): Promise<void> {
  say("\n## One-service run, phase by phase (examples/web, SSO on the warm layer)");
  const reports: RunReport[] = [];
  for (let i = 0; i < REPS; i++)
    reports.push(
      requireOk(
        await ciRun(
          { recipeDir: path.join(root, "examples", "web"), sso: "warm", handleSignals: false, log: quiet },
          env,
        ),
      ),
    );
  const names = reports[0].phases.map((p) => p.name);
  say("| phase | time |\n| --- | --- |");
  for (const n of names)
    say(`| ${n} | ${stats(reports.map((r) => r.phases.find((p) => p.name === n)?.durationMs ?? 0)).text} |`);
  const total = stats(reports.map((r) => r.durationMs));
  say(`| **total** | ${total.text} |`);

  // The floor: the same service and realm through the Docker and Keycloak APIs, no Pulumi.
  const floor: number[] = [];
  const kcOut = { adminUrl: warm.adminUrl, provisioning: warm.provisioning };
  const proxy = warm.proxy;
  for (let i = 0; i < REPS; i++) {
    const n = runNames("web");
    const t0 = Date.now();
    const kc = new KeycloakAdmin({
      url: kcOut.adminUrl,
      realm: kcOut.provisioning.realm,
      clientId: kcOut.provisioning.clientId,
      clientSecret: kcOut.provisioning.clientSecret,
    });
    await kc.createRealm({ realm: n.realm, attributes: { "cc-ci.run": n.runId } });
    const host = `${n.runId}.${proxy.domain}`;
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
        ContainerSpec: { Image: "cc-ci/whoami:1", Labels: { "cc-ci.run": n.runId } },
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
    floor.push(Date.now() - t0);
  }
  const fs = stats(floor);
  say(
    `floor (same service and realm via the Docker and Keycloak APIs, until it answers, then removed): ${fs.text}`,
  );
  say(`ratio run/floor (medians): ${(total.med / fs.med).toFixed(1)}× — target ≤ 2×`);
}

async function concurrency(): Promise<void> {
  say("\n## Concurrent runs (examples/sso on the warm layer): wall time");
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
  for (const k of [1, 2, 4])
    say(`| ${k} | ${stats(wall[k]).text} | ${(stats(wall[k]).med / one).toFixed(2)}× |`);
  say("target: 4 at once within 2× of one");
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
  say("\n## Memory of the warm layer (sum over its containers, docker stats)");
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
  say(`at rest: ${Math.max(...rest).toFixed(0)} MiB; peak during 4 concurrent runs: ${peak.toFixed(0)} MiB`);
}

async function auditTime(): Promise<void> {
  say("\n## Audit time over N run stacks (report only, no drift check)");
  for (const n of QUICK ? [20] : [20, 50]) {
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
    const times: number[] = [];
    for (let i = 0; i < REPS; i++) times.push((await audit(env, { drift: false })).durationMs);
    say(`${n} stacks: ${stats(times).text} — target for 50: ≤ 10 s`);
  }
  const reap = await audit(env, { drift: false, reap: true, maxAgeMs: 1 });
  say(`reaping them all: ${(reap.durationMs / 1000).toFixed(0)} s`);
}

async function main(): Promise<void> {
  const started = new Date();
  say(
    `# cc-ci benchmarks\n\n${started.toISOString().slice(0, 10)}, ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 1024 ** 3).toFixed(0)} GiB; ${REPS} repetitions each.`,
  );
  const warm = await warmView();
  const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
  if (!only || only === "sso") await ssoReadiness(warm);
  if (only === "sso") return finish(started);
  await oneServiceRun(warm);
  await concurrency();
  await memory();
  await auditTime();
  finish(started);
}

function finish(started: Date): void {
  say(`\n(${((Date.now() - started.getTime()) / 60000).toFixed(0)} min in all; \`npm run bench\`)`);
  const file = args.includes("--only") ? "RESULTS-partial.md" : "RESULTS.md";
  writeFileSync(path.join(__dirname, file), `${lines.join("\n")}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
