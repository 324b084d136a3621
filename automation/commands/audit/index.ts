/**
 * `cc-ci audit`: what runs left behind. Compares the state backend with what really exists in the
 * swarm and in Keycloak. Without --reap it only reports. With --reap it reaps stale run stacks
 * (refresh clearing pending creates, destroy, remove; once more after a refresh on failure; several
 * at once) and removes residue no live run owns. Safety: nothing younger than the grace period and
 * nothing a live run holds a lease on is touched, stacks and leases are read again right before each
 * removal, and the warm layer's objects carry no run label. Exit non-zero while anything is left.
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import * as path from "node:path";
import type { LocalWorkspace } from "@pulumi/pulumi/automation";
import { formatProblem } from "../../../lib/errors";
import {
  OWNER_ATTRIBUTE,
  ownerId,
  REALM_PATTERN,
  RUN_ATTRIBUTE,
  runIdOfStack,
  shortStackName,
  WARM_STACK,
} from "../../../lib/naming";
import {
  dockerClient,
  removeObjects,
  runObjects,
  sweepTaskContainers,
  unreachableNodes,
  untilGone,
  type DockerObject,
} from "../../adapters/docker";
import type { CcciEnv } from "../../adapters/env";
import { keycloakAnswers, provisioningAdmin } from "../../adapters/keycloak";
import { leaseAlive, leaseStore, type Lease, type LeaseStore } from "../../adapters/leases";
import { pooledRealms } from "../../adapters/realmPool";
import { proxyAnswers } from "../../adapters/http";
import {
  homeName,
  previewDrift,
  pulumiCli,
  pulumiErrorSummary,
  readWarm,
  selectStack,
  stackList,
  withWorkspace,
} from "../../adapters/pulumi";
import { isResidue, judgeStack, liveRunIds, type AuditLimits, type LockInfo } from "./judge";
import { auditDeps, type DepsAudit, type UnitResidue } from "./deps";
import { backendFacts, type BackendFacts } from "./locks";
import { diskUse, pruneImages, type DiskReport } from "./disk";
import { registryUse, type RegistryUse } from "../../adapters/registry";
import { humanBytes } from "../../../lib/units";
import { killProcesses, listProcesses, orphanedPlugins, type OrphanProcess } from "./processes";

export interface AuditOptions {
  /** Remove what is stale. Default: false (report only, no side effects). */
  reap?: boolean;
  /** Run stacks older than this are stale. Default: 6 h. */
  maxAgeMs?: number;
  /** Nothing younger than this is touched. Default: 10 min. */
  graceMs?: number;
  /** Budget for the Docker data root. Default: 50 GiB. */
  diskBudgetBytes?: number;
  /** Check the warm layer for drift (a preview with refresh; slow). Default: true. */
  drift?: boolean;
  warmStack?: string;
  /** Stacks reaped at once. Default: 4. */
  parallel?: number;
  log?: (line: string) => void;
}

export interface StackAudit {
  name: string;
  runId: string;
  lastUpdate?: string;
  ageMs?: number;
  resourceCount?: number;
  lock?: LockInfo;
  lease?: Lease;
  stale: boolean;
  reason?: string;
  reaped?: boolean;
  /** Why the stack could not be destroyed and was removed by force (its objects reaped as residue). */
  forced?: string;
  error?: string;
}

export interface RealmResidue {
  realm: string;
  runId?: string;
  removed?: boolean;
}

export interface AuditReport {
  at: string;
  durationMs: number;
  stacks: StackAudit[];
  residue: {
    docker: (DockerObject & { ageMs?: number; removed?: boolean })[];
    realms: RealmResidue[];
    /** Units on warm dependencies (databases, …) of runs no live stack owns. */
    units: UnitResidue[];
    /** Plugin processes of killed runs on this host. */
    processes: OrphanProcess[];
  };
  warm: {
    exists: boolean;
    traefik?: boolean;
    keycloak?: boolean;
    /** Whether each warm dependency answers its provisioning role, by kind. */
    deps?: DepsAudit["answers"];
    /** What live runs' units hold on them, in bytes, by kind. */
    depsBytes?: DepsAudit["liveBytes"];
    drift?: boolean | "skipped" | "error";
    /** Pooled realms ready for runs (not residue). */
    realmPool?: number;
    /** The layer's image registry, when it has one: answering, and its storage against its budget. */
    registry?: RegistryUse;
    problems: string[];
  };
  disk: DiskReport;
  errors: string[];
  clean: boolean;
}

const MINUTE = 60_000;

export async function audit(env: CcciEnv, opts: AuditOptions = {}): Promise<AuditReport> {
  const started = Date.now();
  const log = opts.log ?? (() => undefined);
  const limits = (): AuditLimits => ({
    owner: ownerId(env.backendUrl),
    maxAgeMs: opts.maxAgeMs ?? 360 * MINUTE,
    graceMs: opts.graceMs ?? 10 * MINUTE,
    now: Date.now(),
  });
  const errors: string[] = [];
  const docker = dockerClient();
  const leases = leaseStore(env);
  const facts = backendFacts(env);
  try {
    return await auditWith(env, opts, started, log, limits, errors, docker, leases, facts);
  } finally {
    await leases.close().catch(() => undefined);
    await facts.close().catch(() => undefined);
  }
}

async function auditWith(
  env: CcciEnv,
  opts: AuditOptions,
  started: number,
  log: (l: string) => void,
  limits: () => AuditLimits,
  errors: string[],
  docker: ReturnType<typeof dockerClient>,
  leases: LeaseStore,
  facts: BackendFacts,
): Promise<AuditReport> {
  return withWorkspace(env, homeName("audit"), async (ws) => {
    const stacks = await judgeStacks(facts, ws, await leases.list(), limits());
    if (opts.reap) await reapStacks(facts, ws, stacks, leases, limits, opts.parallel ?? 4, log, errors);

    // Docker objects of runs no live stack or lease owns. Read again right before removing.
    const residueNow = async () => {
      const live = liveRunIds(stacks, await leases.list(), Date.now());
      const l = limits();
      return (await runObjects(docker))
        .map((o) => ({ ...o, ageMs: o.createdAt ? l.now - Date.parse(o.createdAt) : undefined }))
        .filter((o) => isResidue(o, live, l));
    };
    let dockerResidue: AuditReport["residue"]["docker"] = await residueNow();
    if (opts.reap && dockerResidue.length > 0) {
      const again = await residueNow();
      log(`removing ${again.length} Docker objects of runs no stack owns`);
      for (const f of await removeObjects(docker, again))
        errors.push(`${f.object.kind} ${f.object.name}: ${f.error}`);
      // What is still there after removal (a task may take a moment to stop) is what remains.
      const still = new Set((await residueNow()).map((o) => o.id));
      dockerResidue = dockerResidue.map((o) => ({ ...o, removed: !still.has(o.id) }));
    }

    const { warm, realms, units } = await auditWarm(ws, opts, stacks, leases, errors, log, limits);
    // A stale stack does not protect its processes: orphans exist only once their CLI is dead.
    const processes = orphanedPlugins(
      listProcesses(),
      path.join(env.home, "homes"),
      liveRunIds(
        stacks.filter((s) => !s.stale),
        await leases.list(),
        Date.now(),
      ),
    );
    if (opts.reap && processes.length > 0) {
      log(`ending ${processes.length} plugin processes of killed runs`);
      await killProcesses(processes);
    }
    if (opts.reap) {
      const live = liveRunIds(stacks, await leases.list(), Date.now());
      cleanOrphanFiles(env, live);
      await dropDeadLeases(leases, live, log).catch((e: Error) =>
        errors.push(`leases in ${leases.where}: ${e.message}`),
      );
    }
    // Nodes whose containers and volumes no one can see now: what runs left there waits for them.
    const nodes = await unreachableNodes(docker);
    for (const n of nodes)
      errors.push(
        `node ${n.node} is ${n.state}: its containers and volumes cannot be checked${n.services.length ? ` (runs' tasks the swarm placed there: ${n.services.join(", ")})` : ""}; bring it back and audit again, or remove it from the swarm`,
      );
    const budget = opts.diskBudgetBytes ?? 50 * 1024 ** 3;
    let disk = await diskUse(docker, budget);
    if (opts.reap && disk.over && disk.usedBytes !== undefined) {
      const pruned = await pruneImages(docker, disk.usedBytes - budget);
      if (pruned.length > 0) {
        log(
          `disk over its budget: removed ${pruned.length} pulled image(s) no one uses: ${pruned.join(", ")}`,
        );
        disk = { ...(await diskUse(docker, budget)), pruned };
      }
    }
    const staleLeft = stacks.some((s) => s.stale && !s.reaped);
    const residueLeft =
      dockerResidue.some((o) => !o.removed) ||
      realms.some((r) => !r.removed) ||
      units.some((u) => !u.removed) ||
      processes.some((p) => !p.killed);
    const warmBad =
      warm.exists &&
      (warm.traefik === false ||
        warm.keycloak === false ||
        Object.values(warm.deps ?? {}).includes(false) ||
        warm.drift === true ||
        warm.problems.length > 0);
    return {
      at: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      stacks,
      residue: { docker: dockerResidue, realms, units, processes },
      warm,
      disk,
      errors,
      clean: !staleLeft && !residueLeft && !warmBad && !disk.over && errors.length === 0,
    };
  });
}

async function judgeStacks(
  facts: BackendFacts,
  ws: LocalWorkspace,
  leases: Lease[],
  l: AuditLimits,
): Promise<StackAudit[]> {
  const out: StackAudit[] = [];
  for (const s of await stackList(ws)) {
    const runId = runIdOfStack(s.name);
    if (!runId) continue;
    const name = shortStackName(s.name);
    const lock = await facts.lock(name);
    const updated = s.lastUpdate ? Date.parse(s.lastUpdate) : await facts.stateTime(name);
    const ageMs = updated ? l.now - updated : undefined;
    const lease = leases.find((x) => x.runId === runId);
    const v = judgeStack({ ageMs, lock, lease }, l);
    out.push({
      name,
      runId,
      lastUpdate: s.lastUpdate,
      ageMs,
      resourceCount: s.resourceCount,
      lock,
      lease,
      ...v,
    });
  }
  return out;
}

/** Reaps stale stacks, `parallel` at a time, judging each again right before it is touched. */
async function reapStacks(
  facts: BackendFacts,
  ws: LocalWorkspace,
  stacks: StackAudit[],
  leases: LeaseStore,
  limits: () => AuditLimits,
  parallel: number,
  log: (l: string) => void,
  errors: string[],
): Promise<void> {
  const queue = stacks.filter((s) => s.stale);
  const worker = async () => {
    for (let s = queue.shift(); s; s = queue.shift()) {
      const again = judgeStack(
        {
          ageMs: s.ageMs,
          lock: await facts.lock(s.name),
          lease: (await leases.list()).find((x) => x.runId === s.runId),
        },
        limits(),
      );
      if (!again.stale) {
        Object.assign(s, again);
        continue;
      }
      log(`reaping stack ${s.name} (${s.reason})`);
      try {
        await reapStack(facts, ws, s, log);
        s.reaped = true;
      } catch (e) {
        s.error = pulumiErrorSummary(e);
        errors.push(`stack ${s.name}: ${s.error}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
}

/**
 * `pulumi destroy --remove`: one CLI start, where the Automation API's `destroy` and `removeStack`
 * take four (select, destroy, the history it reads back, remove). What can fail in it — a dead
 * lock, pending creates of an interrupted `up`, a provider refusing — goes the careful way below.
 */
async function destroyAndRemove(ws: LocalWorkspace, name: string): Promise<void> {
  await pulumiCli(ws, [
    "destroy",
    "--yes",
    "--skip-preview",
    "--remove",
    "--color",
    "never",
    "--stack",
    name,
  ]);
}

/**
 * Destroys and removes a stale stack, then waits until none of its run's objects is left. A stack
 * with a stale lock, or whose plain destroy fails, is taken the careful way: lock cancelled, pending
 * creates cleared by a refresh, destroy, and once more after a refresh; if even that fails it is
 * removed by force and its objects are left to the residue sweep.
 */
async function reapStack(
  facts: BackendFacts,
  ws: LocalWorkspace,
  s: StackAudit,
  log: (l: string) => void,
): Promise<void> {
  let done = false;
  if (!s.lock) {
    try {
      await destroyAndRemove(ws, s.name);
      done = true;
    } catch (e) {
      log(`  ${s.name}: ${pulumiErrorSummary(e)}; taking the careful way`);
    }
  }
  if (!done && !(await carefulReap(facts, ws, s, log))) return;
  // Removed services' tasks take seconds to stop: with no service of the run left, its task
  // containers are removed at once (as a run's teardown does); the stack is reaped when all is gone.
  const docker = dockerClient();
  await sweepTaskContainers(s.runId, docker);
  await untilGone((kinds) => runObjects(docker, s.runId, undefined, kinds), 30_000);
}

/** The careful way; false when there is nothing more to wait for (the stack was gone, or forced). */
async function carefulReap(
  facts: BackendFacts,
  ws: LocalWorkspace,
  s: StackAudit,
  log: (l: string) => void,
): Promise<boolean> {
  const stack = await selectStack(ws, s.name);
  if (!stack) return true; // removed meanwhile (by its run, another audit, or the fast path's removal)
  if (s.lock && !s.lock.alive) {
    // `pulumi cancel` removes the lock on a DIY backend; the file is the fallback if it cannot.
    await stack.cancel().catch(() => facts.removeLock(s.name));
  }
  const destroy = async () => {
    await stack.refresh({ clearPendingCreates: true, color: "never" });
    await stack.destroy({ color: "never" });
  };
  try {
    await destroy();
  } catch (e) {
    log(`  ${s.name}: ${pulumiErrorSummary(e)}; refreshing and retrying once`);
    try {
      await destroy();
    } catch (again) {
      // A stack whose providers can no longer act cannot be destroyed: say, the warm Keycloak it
      // was made on was rebuilt, and refuses the credentials in its state. Every object of a run
      // carries its label (Docker) or attribute (realm), so the stack is removed by force and what
      // it held is removed below as residue, now or, if it is out of reach, by a later audit.
      s.forced = pulumiErrorSummary(again);
      log(`  ${s.name}: destroy failed again; removing the stack by force, its objects as residue`);
      await ws.removeStack(s.name, { force: true });
      return false;
    }
  }
  await ws.removeStack(s.name);
  return true;
}

/** The warm layer: its contract, health, realms of runs no live stack owns, drift. */
async function auditWarm(
  ws: LocalWorkspace,
  opts: AuditOptions,
  stacks: StackAudit[],
  leases: LeaseStore,
  errors: string[],
  log: (l: string) => void,
  limits: () => AuditLimits,
): Promise<{ warm: AuditReport["warm"]; realms: RealmResidue[]; units: UnitResidue[] }> {
  const owner = limits().owner;
  const name = opts.warmStack ?? WARM_STACK;
  const w = await readWarm(ws, name);
  const warm: AuditReport["warm"] = { exists: w.exists, problems: w.read?.problems.map(formatProblem) ?? [] };
  const realms: RealmResidue[] = [];
  let units: UnitResidue[] = [];
  const read = w.read;
  if (read?.ok) {
    warm.traefik = await proxyAnswers(read.proxy);
    const live = liveRunIds(stacks, await leases.list(), Date.now());
    const d = await auditDeps(read.deps, live, limits(), opts.reap === true, log, errors);
    if (read.deps) Object.assign(warm, { deps: d.answers, depsBytes: d.liveBytes });
    units = d.units;
    if (read.keycloak) {
      warm.keycloak = await keycloakAnswers(read.keycloak.adminUrl);
      if (warm.keycloak) {
        // The provisioning identity sees only the realms it created, i.e. runs' realms.
        const kc = provisioningAdmin(read.keycloak);
        try {
          // Realms have no creation time here: a live lease or stack is what protects a young run.
          const live = liveRunIds(stacks, await leases.list(), Date.now());
          warm.realmPool = (await pooledRealms(kc, name)).length;
          for (const r of await kc.realms()) {
            if (r.realm === "master" || !REALM_PATTERN.test(r.realm)) continue;
            const runId = r.attributes?.[RUN_ATTRIBUTE] ?? /^cc-ci run (\S+)$/.exec(r.displayName ?? "")?.[1];
            const realmOwner = r.attributes?.[OWNER_ATTRIBUTE];
            if (!runId || live.has(runId) || (realmOwner !== undefined && realmOwner !== owner)) continue;
            const residue: RealmResidue = { realm: r.realm, runId };
            if (opts.reap) {
              await kc.deleteRealm(r.realm);
              residue.removed = true;
              log(`removed realm ${r.realm}`);
            }
            realms.push(residue);
          }
        } catch (e) {
          errors.push(`keycloak realms: ${(e as Error).message}`);
        }
      }
    }
  }
  if (w.registry) {
    try {
      const r = await registryUse(dockerClient(), w.registry, opts.reap === true, log);
      warm.registry = r;
      if (!r.answers) warm.problems.push(`image registry: does not answer at http://${w.registry.push}/v2/`);
      if (r.over)
        warm.problems.push(
          `image registry: holds ${humanBytes(r.usedBytes)}, over its disk budget of ${humanBytes(r.budgetBytes)}${r.reaped ? ` after it was ${r.reaped}` : " (cc-ci audit --reap brings it down)"}`,
        );
    } catch (e) {
      errors.push(`image registry ${w.registry.container}: ${(e as Error).message}`);
    }
  }
  const stack = w.exists && opts.drift !== false ? await selectStack(ws, name) : undefined;
  if (stack) {
    const d = await previewDrift(stack);
    if ("error" in d) {
      warm.drift = "error";
      errors.push(`warm drift check: ${d.error}`);
    } else warm.drift = d.drift;
  } else warm.drift = "skipped";
  return { warm, realms, units };
}

/** Stack settings files and Pulumi homes of runs that are gone (only with --reap: an audit reports, it does not touch). */
/**
 * Leases and claims (slot networks, pooled realms) of runs that are over (killed: a clean end removes its own): no live stack
 * and no live lease. A claimed network that something still uses is kept from reuse by claimSlot's
 * own check, so dropping its claim frees nothing too early.
 */
async function dropDeadLeases(leases: LeaseStore, live: ReadonlySet<string>, log: (l: string) => void) {
  // Claims first, then leases: a run writes its lease before it claims, so every claim read here
  // has its run's lease in the read after it (a run starting now is alive there, whatever `live` says).
  const allClaims = await leases.claims();
  const all = await leases.list();
  const alive = new Set(all.filter((l) => leaseAlive(l)).map((l) => l.runId));
  const over = (runId: string) => !live.has(runId) && !alive.has(runId);
  const dead = all.filter((l) => over(l.runId));
  const claims = allClaims.filter((c) => over(c.runId));
  if (dead.length + claims.length > 0)
    log(`dropping ${dead.length} lease(s) and ${claims.length} claim(s) of runs that are over`);
  for (const l of dead) await leases.remove(l.runId);
  for (const c of claims) await leases.unclaim(c.slot, c.runId);
}

function cleanOrphanFiles(env: CcciEnv, live: ReadonlySet<string>): void {
  const run = (name: string) => /^run-([a-z0-9]+-[0-9a-f]{6})/.exec(name)?.[1];
  for (const f of readdirSync(env.projectDir)) {
    const id = /^Pulumi\.(run-[a-z0-9]+-[0-9a-f]{6})\.yaml$/.test(f)
      ? run(f.slice("Pulumi.".length))
      : undefined;
    if (id && !live.has(id)) rmSync(path.join(env.projectDir, f), { force: true });
  }
  const homes = path.join(env.home, "homes");
  if (!existsSync(homes)) return;
  for (const d of readdirSync(homes)) {
    const id = run(d);
    if (id && !live.has(id)) rmSync(path.join(homes, d), { recursive: true, force: true });
  }
}

export { auditTable } from "./table";
