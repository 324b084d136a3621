/**
 * The audit's decisions, as pure functions: when a run stack is stale, and when a Docker object or a
 * realm is residue. Nothing young is ever touched (a grace period), nothing a live run holds a lease
 * on, and nothing without a run label — the warm layer's objects have none.
 */
import type { Lease } from "../leases";
import { leaseAlive } from "../leases";

export interface LockInfo {
  pid: number;
  host: string;
  time?: string;
  /** Whether the holder is known to be alive (a PID on this host, or a fresh lease anywhere). */
  alive: boolean;
}

export interface StackFacts {
  /** Milliseconds since the stack was last updated, when known. */
  ageMs?: number;
  lock?: LockInfo;
  /** The run's lease, when it has one. */
  lease?: Lease;
}

export interface AuditLimits {
  /** This audit's state backend (lib/naming ownerId): another backend's runs are not ours to judge. */
  owner?: string;
  /** Run stacks older than this are stale (unless a live process holds them). */
  maxAgeMs: number;
  /** Nothing younger than this is touched: a run may be starting. */
  graceMs: number;
  now: number;
}

export type Verdict = { stale: false; reason?: string } | { stale: true; reason: string };

export function judgeStack(f: StackFacts, l: AuditLimits): Verdict {
  const leased = f.lease !== undefined && leaseAlive(f.lease, l.now);
  const young = f.ageMs !== undefined && f.ageMs < l.graceMs;
  if (leased) return { stale: false, reason: `held by a live run on ${f.lease?.host}` };
  if (f.lock && !f.lock.alive) {
    if (young)
      return { stale: false, reason: "its lock holder is gone, but it is younger than the grace period" };
    return { stale: true, reason: `locked by ${f.lock.host}:${f.lock.pid}, which is gone` };
  }
  if (f.lock?.alive)
    return { stale: false, reason: `locked by a live process (${f.lock.host}:${f.lock.pid})` };
  // A lease outlives its run only when the run was killed outright (a clean end removes it): say,
  // during the tests, when no Pulumi lock is held.
  if (f.lease) {
    if (young)
      return { stale: false, reason: "its run's agent is gone, but it is younger than the grace period" };
    return { stale: true, reason: `its run's agent (${f.lease.host}:${f.lease.pid}) is gone` };
  }
  if (f.ageMs !== undefined && f.ageMs > l.maxAgeMs)
    return { stale: true, reason: `last updated ${Math.round(f.ageMs / 60000)} min ago` };
  return { stale: false };
}

export interface ResidueFacts {
  runId: string;
  /** The state backend the run belongs to, when the object names it. */
  owner?: string;
  /** Milliseconds since the object was created, when known. */
  ageMs?: number;
}

/**
 * A run's object (Docker object or realm) is residue when no live stack owns its run, no live lease
 * holds it, and it is older than the grace period (a run between its lease check and its stack).
 */
export function isResidue(o: ResidueFacts, liveRuns: ReadonlySet<string>, l: AuditLimits): boolean {
  if (o.runId === "" || liveRuns.has(o.runId)) return false;
  // Another CI home's (or the test suite's) run on the same swarm: its own audits judge it.
  if (o.owner !== undefined && l.owner !== undefined && o.owner !== l.owner) return false;
  return o.ageMs === undefined || o.ageMs >= l.graceMs;
}

/** The run ids that are live: those with a stack not judged stale, and those with a fresh lease. */
export function liveRunIds(
  stacks: readonly { runId: string; stale: boolean; reaped?: boolean }[],
  leases: readonly Lease[],
  now: number,
): Set<string> {
  const live = new Set(stacks.filter((s) => !s.reaped).map((s) => s.runId));
  for (const lease of leases) if (leaseAlive(lease, now)) live.add(lease.runId);
  return live;
}
