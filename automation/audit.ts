/**
 * `cc-ci audit`: what runs left behind. Compares the state backend with what really exists in the
 * swarm and in Keycloak; reaps stale run stacks (refresh clearing pending creates, destroy, remove;
 * once more after a refresh on failure) and, with --reap, removes residue no live stack owns. The
 * warm layer's objects carry no run label and are never touched. Exit non-zero while anything stale
 * remains, so a scheduler can alert.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { readWarmOutputs, type ContractRead } from "../lib/contract";
import { REALM_PATTERN, runIdOfStack } from "../lib/naming";
import { RUN_ATTRIBUTE } from "../components/runRealm";
import { dockerClient, removeObjects, runObjects, type DockerObject } from "./docker";
import { privatePulumiHome, removePulumiHome, workspaceOptions, type CcciEnv } from "./env";
import { viaProxy } from "./http";
import { KeycloakAdmin, keycloakAnswers } from "./keycloakAdmin";

export interface AuditOptions {
  /** Remove what is stale. Default: false (report only). */
  reap?: boolean;
  /** Run stacks older than this are stale. Default: 6 h. */
  maxAgeMs?: number;
  /** Budget for the Docker data root. Default: 50 GiB. */
  diskBudgetBytes?: number;
  /** Check the warm layer for drift (a preview with refresh; slow). Default: true. */
  drift?: boolean;
  warmStack?: string;
  log?: (line: string) => void;
}

export interface LockInfo {
  pid: number;
  host: string;
  time?: string;
  alive: boolean;
}

export interface StackAudit {
  name: string;
  runId: string;
  lastUpdate?: string;
  ageMs?: number;
  resourceCount?: number;
  lock?: LockInfo;
  stale: boolean;
  reason?: string;
  reaped?: boolean;
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
  residue: { docker: (DockerObject & { ageMs?: number; removed?: boolean })[]; realms: RealmResidue[] };
  warm: {
    exists: boolean;
    traefik?: boolean;
    keycloak?: boolean;
    drift?: boolean | "skipped" | "error";
    problems: string[];
  };
  disk: { dataRoot?: string; usedBytes?: number; budgetBytes: number; over: boolean };
  errors: string[];
  clean: boolean;
}

const HOUR = 3600_000;

export async function audit(env: CcciEnv, opts: AuditOptions = {}): Promise<AuditReport> {
  const started = Date.now();
  const log = opts.log ?? (() => undefined);
  const maxAge = opts.maxAgeMs ?? 6 * HOUR;
  const warmName = opts.warmStack ?? "warm";
  const errors: string[] = [];
  const home = privatePulumiHome(env, `audit-${process.pid}`);
  const docker = dockerClient();
  try {
    const ws = await LocalWorkspace.create(await workspaceOptions(env, home));
    const all = await ws.listStacks();
    const stacks: StackAudit[] = [];
    for (const s of all) {
      const runId = runIdOfStack(s.name);
      if (!runId) continue;
      const short = s.name.split("/").pop() as string;
      const lock = readLock(env, short);
      const updated = s.lastUpdate ? Date.parse(s.lastUpdate) : stackFileTime(env, short);
      const ageMs = updated ? started - updated : undefined;
      let reason: string | undefined;
      if (lock && !lock.alive) reason = `locked by ${lock.host}:${lock.pid}, which is gone`;
      else if (!lock?.alive && ageMs !== undefined && ageMs > maxAge)
        reason = `last updated ${Math.round(ageMs / 60000)} min ago`;
      stacks.push({
        name: short,
        runId,
        lastUpdate: s.lastUpdate,
        ageMs,
        resourceCount: s.resourceCount,
        lock,
        stale: reason !== undefined,
        reason,
      });
    }

    if (opts.reap) {
      for (const s of stacks.filter((x) => x.stale)) {
        log(`reaping stack ${s.name} (${s.reason})`);
        try {
          await reapStack(env, ws, s, log);
          s.reaped = true;
        } catch (e) {
          s.error = (e as Error).message.split("\n").slice(0, 3).join(" ");
          errors.push(`stack ${s.name}: ${s.error}`);
        }
      }
    }
    const live = new Set(stacks.filter((s) => !s.reaped).map((s) => s.runId));

    // Docker objects of runs no live stack owns.
    const now = Date.now();
    let dockerResidue: AuditReport["residue"]["docker"] = (await runObjects(docker))
      .filter((o) => !live.has(o.runId))
      .map((o) => ({ ...o, ageMs: o.createdAt ? now - Date.parse(o.createdAt) : undefined }));
    if (opts.reap && dockerResidue.length > 0) {
      log(`removing ${dockerResidue.length} Docker objects of runs no stack owns`);
      const failed = await removeObjects(docker, dockerResidue);
      for (const f of failed) errors.push(`${f.object.kind} ${f.object.name}: ${f.error}`);
      // What is still there after removal (a task may take a moment to stop) is what remains.
      const still = new Set((await runObjects(docker)).filter((o) => !live.has(o.runId)).map((o) => o.id));
      dockerResidue = dockerResidue.map((o) => ({ ...o, removed: !still.has(o.id) }));
    }

    // The warm layer: its contract, health, realms no run owns, drift.
    const warm: AuditReport["warm"] = { exists: false, problems: [] };
    let read: ContractRead | undefined;
    const warmSummary = all.find((s) => s.name === warmName || s.name.endsWith(`/${warmName}`));
    let warmStack: Stack | undefined;
    if (warmSummary) {
      warm.exists = true;
      warmStack = await Stack.select(warmName, ws);
      const outputs = await warmStack.outputs();
      read = readWarmOutputs(Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value])));
      warm.problems = read.problems.map((p) => `${p.path}: ${p.message}`);
    }
    const realms: RealmResidue[] = [];
    if (read?.ok) {
      warm.traefik = await viaProxy(`http://audit.${read.proxy.domain}/`, read.proxy).then(
        () => true,
        () => false,
      );
      if (read.keycloak) {
        warm.keycloak = await keycloakAnswers(read.keycloak.adminUrl);
        if (warm.keycloak) {
          const p = read.keycloak.provisioning;
          // The provisioning identity sees only the realms it created, i.e. runs' realms.
          const kc = new KeycloakAdmin({
            url: read.keycloak.adminUrl,
            realm: p.realm,
            clientId: p.clientId,
            clientSecret: p.clientSecret,
          });
          try {
            for (const r of await kc.realms()) {
              if (r.realm === "master" || !REALM_PATTERN.test(r.realm)) continue;
              const runId = r.attributes?.[RUN_ATTRIBUTE];
              if (runId && live.has(runId)) continue;
              if (!runId && !r.displayName?.startsWith("cc-ci run ")) continue;
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
    if (warmStack && opts.drift !== false) {
      try {
        await warmStack.preview({ refresh: true, expectNoChanges: true, color: "never" });
        warm.drift = false;
      } catch (e) {
        const m = (e as Error).message;
        if (/expected no changes|no changes were expected/i.test(m)) warm.drift = true;
        else {
          warm.drift = "error";
          errors.push(`warm drift check: ${m.split("\n").slice(-3).join(" ")}`);
        }
      }
    } else warm.drift = "skipped";

    cleanOrphans(env, new Set(stacks.filter((s) => !s.reaped).map((s) => s.name)));
    const disk = await diskUse(docker, opts.diskBudgetBytes ?? 50 * 1024 ** 3);
    const staleLeft = stacks.some((s) => s.stale && !s.reaped);
    const residueLeft = dockerResidue.some((o) => !o.removed) || realms.some((r) => !r.removed);
    const warmBad =
      warm.exists &&
      (warm.traefik === false || warm.keycloak === false || warm.drift === true || warm.problems.length > 0);
    return {
      at: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      stacks,
      residue: { docker: dockerResidue, realms },
      warm,
      disk,
      errors,
      clean: !staleLeft && !residueLeft && !warmBad && !disk.over && errors.length === 0,
    };
  } finally {
    removePulumiHome(env, `audit-${process.pid}`);
  }
}

/** Stale lock gone, pending creates cleared, destroy, remove; one retry after a refresh. */
async function reapStack(
  env: CcciEnv,
  ws: LocalWorkspace,
  s: StackAudit,
  log: (l: string) => void,
): Promise<void> {
  const stack = await Stack.select(s.name, ws);
  if (s.lock && !s.lock.alive) {
    // `pulumi cancel` removes the lock on a DIY backend; the file is the fallback if it cannot.
    await stack.cancel().catch(() => removeLock(env, s.name));
  }
  const destroy = async () => {
    await stack.refresh({ clearPendingCreates: true, color: "never" });
    await stack.destroy({ color: "never" });
  };
  try {
    await destroy();
  } catch (e) {
    log(`  ${s.name}: ${(e as Error).message.split("\n")[0]}; refreshing and retrying once`);
    await destroy();
  }
  await ws.removeStack(s.name);
}

/** The file backend keeps a stack's lock as .pulumi/locks/<org>/<project>/<stack>/<id>.json. */
function lockDir(env: CcciEnv, stack: string): string | undefined {
  if (!env.backendUrl.startsWith("file://")) return undefined;
  return path.join(
    env.backendUrl.slice("file://".length),
    ".pulumi",
    "locks",
    "organization",
    "cc-ci",
    stack,
  );
}

export function readLock(env: CcciEnv, stack: string): LockInfo | undefined {
  const dir = lockDir(env, stack);
  if (!dir || !existsSync(dir)) return undefined;
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".json"))) {
    try {
      const j = JSON.parse(readFileSync(path.join(dir, f), "utf8")) as {
        pid: number;
        hostname: string;
        timestamp?: string;
      };
      return { pid: j.pid, host: j.hostname, time: j.timestamp, alive: processAlive(j.hostname, j.pid) };
    } catch {
      continue;
    }
  }
  return undefined;
}

function removeLock(env: CcciEnv, stack: string): void {
  const dir = lockDir(env, stack);
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** A lock held on another host is assumed alive: only that host can tell. */
function processAlive(host: string, pid: number): boolean {
  if (host !== hostname()) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function stackFileTime(env: CcciEnv, stack: string): number | undefined {
  if (!env.backendUrl.startsWith("file://")) return undefined;
  const base = path.join(env.backendUrl.slice("file://".length), ".pulumi", "stacks", "cc-ci");
  for (const f of [`${stack}.json`, `${stack}.json.gz`]) {
    const p = path.join(base, f);
    if (existsSync(p)) return statSync(p).mtimeMs;
  }
  return undefined;
}

/** Stack settings files and Pulumi homes of runs whose stack is gone. */
function cleanOrphans(env: CcciEnv, liveStacks: Set<string>): void {
  for (const f of readdirSync(env.projectDir)) {
    const m = /^Pulumi\.(run-[a-z0-9]+-[0-9a-f]{6})\.yaml$/.exec(f);
    if (m && !liveStacks.has(m[1])) rmSync(path.join(env.projectDir, f), { force: true });
  }
  const homes = path.join(env.home, "homes");
  if (!existsSync(homes)) return;
  for (const d of readdirSync(homes)) {
    const m = /^(run-[a-z0-9]+-[0-9a-f]{6})/.exec(d);
    if (m && !liveStacks.has(m[1])) rmSync(path.join(homes, d), { recursive: true, force: true });
  }
}

async function diskUse(
  docker: ReturnType<typeof dockerClient>,
  budget: number,
): Promise<AuditReport["disk"]> {
  try {
    const info = (await docker.info()) as { DockerRootDir?: string };
    const df = (await docker.df()) as {
      LayersSize?: number;
      Volumes?: { UsageData?: { Size?: number } }[];
      Containers?: { SizeRw?: number }[];
      BuildCache?: { Size?: number }[];
    };
    const used =
      (df.LayersSize ?? 0) +
      (df.Volumes ?? []).reduce((n, v) => n + Math.max(0, v.UsageData?.Size ?? 0), 0) +
      (df.Containers ?? []).reduce((n, c) => n + (c.SizeRw ?? 0), 0) +
      (df.BuildCache ?? []).reduce((n, b) => n + (b.Size ?? 0), 0);
    return { dataRoot: info.DockerRootDir, usedBytes: used, budgetBytes: budget, over: used > budget };
  } catch {
    return { budgetBytes: budget, over: false };
  }
}

export function auditTable(r: AuditReport): string {
  const min = (ms?: number) => (ms === undefined ? "?" : `${Math.round(ms / 60000)}m`);
  const lines: string[] = [
    `cc-ci audit at ${r.at} (${(r.durationMs / 1000).toFixed(1)} s): ${r.clean ? "CLEAN" : "NOT CLEAN"}`,
  ];
  lines.push(`run stacks: ${r.stacks.length}`);
  for (const s of r.stacks) {
    const lock = s.lock ? `lock ${s.lock.host}:${s.lock.pid} ${s.lock.alive ? "alive" : "DEAD"}` : "no lock";
    lines.push(
      `  ${s.name.padEnd(24)} age ${min(s.ageMs).padStart(5)}  ${String(s.resourceCount ?? "?").padStart(3)} res  ${lock}  ${s.stale ? `STALE: ${s.reason}${s.reaped ? " → reaped" : ""}` : "ok"}${s.error ? `  error: ${s.error}` : ""}`,
    );
  }
  lines.push(`residue in the swarm (no live stack): ${r.residue.docker.length}`);
  for (const o of r.residue.docker)
    lines.push(
      `  ${o.kind.padEnd(9)} ${o.name.padEnd(48)} run ${o.runId} recipe ${o.recipe ?? "?"} age ${min(o.ageMs)}${o.removed ? " → removed" : ""}`,
    );
  lines.push(`residue in Keycloak (no live stack): ${r.residue.realms.length}`);
  for (const x of r.residue.realms)
    lines.push(`  realm ${x.realm}${x.runId ? ` run ${x.runId}` : ""}${x.removed ? " → removed" : ""}`);
  const w = r.warm;
  lines.push(
    w.exists
      ? `warm layer: traefik ${w.traefik ? "ok" : "DOWN"}, keycloak ${w.keycloak ? "ok" : "DOWN"}, drift ${w.drift === false ? "none" : w.drift}${w.problems.length ? `, problems: ${w.problems.join("; ")}` : ""}`
      : "warm layer: absent",
  );
  const gib = (b?: number) => (b === undefined ? "?" : `${(b / 1024 ** 3).toFixed(1)} GiB`);
  lines.push(
    `disk: ${gib(r.disk.usedBytes)} used by Docker (${r.disk.dataRoot ?? "?"}) of a ${gib(r.disk.budgetBytes)} budget${r.disk.over ? " — OVER" : ""}`,
  );
  for (const e of r.errors) lines.push(`error: ${e}`);
  return lines.join("\n");
}

/** "90m", "6h", "2d", "45s" → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (!m) throw new Error(`invalid duration "${text}" (use e.g. 90m, 6h, 2d)`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: HOUR, d: 24 * HOUR }[m[2] as "s" | "m" | "h" | "d"];
}
