/**
 * Leases: a running `cc-ci run` says so from its first moment until its last, so an audit never
 * mistakes a starting run (no stack yet) or a long one for residue. A lease is a small record with
 * a heartbeat; a lease whose heartbeat is older than the TTL belongs to an agent that is gone,
 * whatever host it ran on — no PID is read but the agent's own, so agents on other hosts are judged
 * alike. Claims live beside the leases: which run uses which of the warm proxy's networks, which
 * pooled realm a run is renaming to its own, whose turn it is to top the realm pool up.
 *
 * Where they are kept follows the state backend: a folder under CC_CI_HOME for a file backend (one
 * host), tables in the same PostgreSQL database for a `postgres://` backend, which every agent
 * sharing that state reaches (`ccci_leases`, `ccci_slot_claims`, created when first needed).
 */
import * as path from "node:path";
import type { CcciEnv } from "../env";
import { FolderLeaseStore } from "./folder";
import { type LeaseStore, agentName, heartbeatMs, leaseAlive, leaseTtlMs } from "./lease";
import { postgresState, PostgresLeaseStore } from "./postgres";

export * from "./lease";
export { FolderLeaseStore } from "./folder";
export { PostgresLeaseStore, postgresPool, postgresState, type PostgresState } from "./postgres";

/** The leases of the agents sharing this state: beside the state in PostgreSQL, else under CC_CI_HOME. */
export function leaseStore(env: CcciEnv): LeaseStore {
  const pg = postgresState(env.backendUrl);
  if (pg) return new PostgresLeaseStore(pg);
  return new FolderLeaseStore(path.join(env.home, "leases"));
}

/** Holds a run's lease from now until `release()`, renewing it in the background. */
export async function holdLease(
  store: LeaseStore,
  runId: string,
  stack: string,
  onError: (e: Error) => void = () => undefined,
): Promise<{ release(): Promise<void> }> {
  const startedAt = new Date().toISOString();
  const renew = () =>
    store.write({
      runId,
      stack,
      host: agentName(),
      pid: process.pid,
      startedAt,
      heartbeatAt: new Date().toISOString(),
      ttlMs: leaseTtlMs(),
    });
  await renew();
  // A missed heartbeat is retried at the next; the lease dies only after a TTL of them. A heartbeat
  // still being written when the run ends is waited for: written after the removal, it would bring
  // the lease back (an upsert can overtake a delete on another connection of the pool).
  let beating: Promise<void> = Promise.resolve();
  let released = false;
  const timer = setInterval(() => {
    if (!released) beating = renew().catch(onError);
  }, heartbeatMs());
  timer.unref();
  return {
    async release() {
      released = true;
      clearInterval(timer);
      await beating;
      await store.remove(runId);
    },
  };
}

/**
 * Claims `key` for `runId`: the first claimant wins. A claim whose run holds no live lease (`live`
 * is the set that do) is taken over when `mayTakeOver(owner)` agrees. Returns the holder after at
 * most two tries (`runId` when won; undefined when it was freed and taken again meanwhile).
 */
export async function claimKey(
  store: LeaseStore,
  key: string,
  runId: string,
  live: ReadonlySet<string>,
  mayTakeOver: (owner: string) => Promise<boolean> = async () => true,
): Promise<string | undefined> {
  let owner: string | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    owner = await store.claim(key, runId);
    if (owner === undefined) continue; // released meanwhile: try again
    if (owner === runId || live.has(owner) || !(await mayTakeOver(owner))) return owner;
    await store.unclaim(key, owner); // a dead run's claim: race the others for it
  }
  return owner;
}

/** The runs whose leases are alive now. */
export async function liveRuns(store: LeaseStore): Promise<Set<string>> {
  return new Set((await store.list()).filter((l) => leaseAlive(l)).map((l) => l.runId));
}

/**
 * Claims one of the warm proxy's slot networks for a run, so no two runs ever share a network. The
 * first claimant wins (an exclusive file, or a row keyed by the slot); a claim whose run no longer
 * holds a live lease is taken over, but only once nothing is attached to its network any more (a
 * run killed outright, or kept for debugging, may still have services there).
 */
export async function claimSlot(
  store: LeaseStore,
  runId: string,
  slots: readonly string[],
  attached: (slot: string) => Promise<string[]>,
): Promise<string> {
  const live = await liveRuns(store);
  const busy: string[] = [];
  for (const slot of slots) {
    const owner = await claimKey(store, slot, runId, live, async (gone) => {
      const users = await attached(slot);
      if (users.length > 0)
        busy.push(`${slot} (run ${gone} is gone, but ${users.slice(0, 3).join(", ")} still use it)`);
      return users.length === 0;
    });
    if (owner === runId) return slot;
  }
  throw new Error(
    `all ${slots.length} slot networks of the warm proxy are in use${busy.length ? `: ${busy.join("; ")}` : " by live runs"}; wait, raise the warm layer's \`slots\`, or reap with \`cc-ci audit --reap\``,
  );
}

/**
 * A run's exclusive claims on shared things other than networks (a pooled realm it renames, the
 * pool's top-up), kept with the leases so every agent sharing the state sees them. What the run
 * still holds when it ends is given back by `releaseAll`; a killed run's claims are taken over by
 * the next claimant (its lease is dead) or dropped by the audit.
 */
export interface RunClaims {
  /** Claims `key` for this run; false while another live run holds it. */
  take(key: string): Promise<boolean>;
  /** Gives `key` back. */
  release(key: string): Promise<void>;
  releaseAll(): Promise<void>;
}

export function runClaims(store: LeaseStore, runId: string): RunClaims {
  const held = new Set<string>();
  return {
    async take(key) {
      const won = (await claimKey(store, key, runId, await liveRuns(store))) === runId;
      if (won) held.add(key);
      return won;
    },
    async release(key) {
      held.delete(key);
      await store.unclaim(key, runId);
    },
    async releaseAll() {
      for (const key of [...held]) await this.release(key);
    },
  };
}

/** Gives a slot back (only the claimant can). */
export async function releaseSlot(store: LeaseStore, runId: string, slot: string): Promise<void> {
  await store.unclaim(slot, runId);
}
