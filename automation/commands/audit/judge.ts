/**
 * The audit's decisions, as pure functions: when a run stack is stale, and when a Docker object or a
 * realm is residue. Nothing young is ever touched (a grace period), nothing a live run holds a lease
 * on, and nothing without a run label — the warm layer's objects have none.
 */
import type { Lease } from "../../adapters/leases";
import { leaseAlive } from "../../adapters/leases";

export interface LockInfo {
  pid: number;
  host: string;
  time?: string;
  /**
   * Whether the holder lives: known on this host (its PID); undefined on another host, where the
   * run's lease decides (a lock outlives its agent only when the agent was killed).
   */
  alive?: boolean;
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
  const holder = f.lock && `${f.lock.host}:${f.lock.pid}`;
  if (leased) return { stale: false, reason: `held by a live run on ${f.lease?.host}` };
  if (f.lock?.alive === false) {
    if (young)
      return { stale: false, reason: "its lock holder is gone, but it is younger than the grace period" };
    return { stale: true, reason: `locked by ${holder}, which is gone` };
  }
  if (f.lock?.alive === true) return { stale: false, reason: `locked by a live process (${holder})` };
  // A lease outlives its run only when the run was killed outright (a clean end removes it): say,
  // during the tests, when no Pulumi lock is held — or during an update, its lock held by a process
  // on another host, which the lease's lapsed heartbeat shows is gone.
  if (f.lease) {
    if (young)
      return { stale: false, reason: "its run's agent is gone, but it is younger than the grace period" };
    return {
      stale: true,
      reason: `its run's agent (${f.lease.host}:${f.lease.pid}) is gone${f.lock ? ` (its lock by ${holder} with it)` : ""}`,
    };
  }
  if (f.ageMs !== undefined && f.ageMs > l.maxAgeMs)
    return {
      stale: true,
      reason: `last updated ${Math.round(f.ageMs / 60000)} min ago${f.lock ? `, locked by ${holder} on another host with no lease` : ""}`,
    };
  if (f.lock) return { stale: false, reason: `locked by ${holder} on another host` };
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
