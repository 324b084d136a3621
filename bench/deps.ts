/**
 * Dependencies' readiness inside real runs of examples/files (an s3 and a postgres dependency), warm
 * against cold, alternating: from the moment the run's `up` starts making a dependency (its
 * resource's "creating" event) until it is ready for the recipe — warm, the unit made on the warm
 * server (its resource "created": the database and its owner role, or the account and its buckets);
 * cold, the run's own server's task healthy (started, its unit made, answering).
 */
import * as path from "node:path";
import type Docker from "dockerode";
import type { CcciEnv } from "../automation/adapters/env";
import { ciRun } from "../automation/commands/run";
import { newRunHex, runNames } from "../lib/naming";
import { requireOk, secs, stats } from "./figures";

const FILES = path.join(__dirname, "..", "examples", "files");
/** The example's dependencies, by name, and their kinds. */
const DEPS = { db: "postgres", files: "s3" } as const;

/** Whether the service's one task runs and is healthy. */
async function healthy(docker: Docker, service: string): Promise<boolean> {
  const tasks = await docker.listTasks({ filters: { service: [service], "desired-state": ["running"] } });
  for (const t of tasks as { Status?: { State?: string; ContainerStatus?: { ContainerID?: string } } }[]) {
    const id = t.Status?.ContainerStatus?.ContainerID;
    if (t.Status?.State !== "running" || !id) continue;
    const c = await docker
      .getContainer(id)
      .inspect()
      .catch(() => undefined);
    if (c?.State?.Health?.Status === "healthy") return true;
  }
  return false;
}

/** Each dependency's readiness in one run, in milliseconds, by name. */
async function readyMs(mode: "warm" | "cold", env: CcciEnv, docker: Docker): Promise<Record<string, number>> {
  const hex = newRunHex();
  const stackName = runNames("files", hex).stackName;
  const creating: Record<string, number> = {};
  const ready: Record<string, number> = {};
  const log = (line: string) => {
    const now = Date.now();
    const c = /run-dep-(\w+)-(unit|server) creating/.exec(line);
    if (c && !creating[c[1]]) creating[c[1]] = now;
    const r = /run-dep-(\w+)-unit created/.exec(line);
    if (mode === "warm" && r && !ready[r[1]]) ready[r[1]] = now;
  };
  let done = false;
  const run = ciRun({ recipeDir: FILES, deps: mode, hex, handleSignals: false, log }, env);
  void run.then(() => (done = true));
  if (mode === "cold")
    while (Object.keys(ready).length < Object.keys(DEPS).length && !done) {
      for (const name of Object.keys(DEPS))
        if (
          creating[name] &&
          !ready[name] &&
          (await healthy(docker, `${stackName}_dep_${name}`).catch(() => false))
        )
          ready[name] = Date.now();
      await new Promise((r) => setTimeout(r, 100));
    }
  const report = requireOk(await run);
  const out: Record<string, number> = {};
  for (const name of Object.keys(DEPS)) {
    if (report.deps?.[name] !== mode)
      throw new Error(`run ${report.runId}: ${name} was ${report.deps?.[name]}, not ${mode}`);
    if (!creating[name] || !ready[name])
      throw new Error(`run ${report.runId}: the ${mode} ${name}'s readiness was not seen`);
    out[name] = ready[name] - creating[name];
  }
  return out;
}

export async function depsReadiness(
  reps: number,
  env: CcciEnv,
  docker: Docker,
  say: (l: string) => void,
  figures: Record<string, number | string | boolean>,
): Promise<void> {
  say(
    "\n### Dependency readiness (examples/files: `up` starts making a dependency → it is ready for the recipe)",
  );
  const warm: Record<string, number>[] = [];
  const cold: Record<string, number>[] = [];
  for (let i = 0; i < reps; i++) {
    warm.push(await readyMs("warm", env, docker));
    cold.push(await readyMs("cold", env, docker));
  }
  say("| kind | warm unit | cold server in the run | cold ÷ warm |\n| --- | --- | --- | --- |");
  for (const [name, kind] of Object.entries(DEPS)) {
    const w = stats(warm.map((x) => x[name]));
    const c = stats(cold.map((x) => x[name]));
    const ratio = c.med / w.med;
    say(`| ${kind} | ${w.text} | ${c.text} | ${ratio.toFixed(1)}× |`);
    Object.assign(figures, {
      [`deps.${kind}.warm.median_s`]: secs(w.med),
      [`deps.${kind}.cold.median_s`]: secs(c.med),
      [`deps.${kind}.ratio`]: Math.round(ratio * 10) / 10,
      [`deps.${kind}.met`]: ratio >= 10,
    });
  }
  const missed = Object.values(DEPS).filter((k) => figures[`deps.${k}.met`] !== true);
  say(
    `target cold ÷ warm ≥ 10× for each kind: ${missed.length === 0 ? "met" : `**missed** for ${missed.join(", ")}`}`,
  );
}
