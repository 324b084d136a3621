/**
 * Leases: a running `cc-ci run` says so from its first moment until its last, so an audit never
 * mistakes a starting run (no stack yet) or a long one for residue. A lease is a small record with
 * a heartbeat; a lease whose heartbeat is older than LEASE_TTL_MS belongs to an agent that is gone,
 * whatever host it ran on — no PID is read, so agents on other hosts are judged alike.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";
import type { CcciEnv } from "./env";

/** A lease not renewed for this long is dead. */
export const LEASE_TTL_MS = 90_000;
/** How often a live run renews its lease. */
export const HEARTBEAT_MS = 20_000;

export interface Lease {
  runId: string;
  stack: string;
  host: string;
  pid: number;
  startedAt: string;
  heartbeatAt: string;
}

/**
 * A lease is alive while its heartbeat is fresh — and, on the host that holds it, while its process
 * lives (a run killed outright is known dead at once there; elsewhere, once the heartbeat is stale).
 */
export function leaseAlive(lease: Lease, now = Date.now(), here = hostname()): boolean {
  if (lease.host === here && !pidAlive(lease.pid)) return false;
  return now - Date.parse(lease.heartbeatAt) < LEASE_TTL_MS;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Where leases are kept: a folder every agent sharing the state can read (default: under CC_CI_HOME). */
export class LeaseStore {
  constructor(private readonly dir: string) {}

  /** The folder the leases (and slot claims) live in. */
  get root(): string {
    return this.dir;
  }

  private file(runId: string): string {
    return path.join(this.dir, `${runId}.json`);
  }

  write(lease: Lease): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file(lease.runId)}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(lease));
    // rename is atomic: a reader sees the old or the new record, never half of one.
    renameSync(tmp, this.file(lease.runId));
  }

  remove(runId: string): void {
    rmSync(this.file(runId), { force: true });
  }

  list(): Lease[] {
    if (!existsSync(this.dir)) return [];
    const out: Lease[] = [];
    for (const f of readdirSync(this.dir).filter((x) => x.endsWith(".json"))) {
      try {
        out.push(JSON.parse(readFileSync(path.join(this.dir, f), "utf8")) as Lease);
      } catch {
        continue; // a record being replaced; the next audit reads it
      }
    }
    return out;
  }
}

/** The leases of the agents sharing this state (a folder under CC_CI_HOME). */
export function leaseStore(env: CcciEnv): LeaseStore {
  return new LeaseStore(path.join(env.home, "leases"));
}

/** Holds a run's lease from now until `release()`, renewing it in the background. */
export function holdLease(store: LeaseStore, runId: string, stack: string): { release(): void } {
  const startedAt = new Date().toISOString();
  const renew = () =>
    store.write({
      runId,
      stack,
      host: hostname(),
      pid: process.pid,
      startedAt,
      heartbeatAt: new Date().toISOString(),
    });
  renew();
  const timer = setInterval(renew, HEARTBEAT_MS);
  timer.unref();
  return {
    release() {
      clearInterval(timer);
      store.remove(runId);
    },
  };
}

/**
 * Claims one of the warm proxy's slot networks for a run, so no two runs ever share a network. A
 * claim is a file created exclusively (the first creator wins); a claim whose run no longer holds a
 * live lease is taken over, but only once nothing is attached to its network any more (a run killed
 * outright, or kept for debugging, may still have services there).
 */
export async function claimSlot(
  store: LeaseStore,
  runId: string,
  slots: readonly string[],
  attached: (slot: string) => Promise<string[]>,
): Promise<string> {
  const dir = path.join(store.root, "slots");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const live = new Set(
    store
      .list()
      .filter((l) => leaseAlive(l))
      .map((l) => l.runId),
  );
  const busy: string[] = [];
  for (const slot of slots) {
    const file = path.join(dir, `${slot}.claim`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(file, runId, { flag: "wx", mode: 0o600 });
        return slot;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      let owner: string;
      try {
        owner = readFileSync(file, "utf8").trim();
      } catch {
        continue; // released meanwhile: try again
      }
      if (owner === runId) return slot;
      if (live.has(owner)) break;
      const users = await attached(slot);
      if (users.length > 0) {
        busy.push(`${slot} (run ${owner} is gone, but ${users.slice(0, 3).join(", ")} still use it)`);
        break;
      }
      rmSync(file, { force: true }); // a dead run's claim on an empty network; race the others for it
    }
  }
  throw new Error(
    `all ${slots.length} slot networks of the warm proxy are in use${busy.length ? `: ${busy.join("; ")}` : " by live runs"}; wait, raise the warm layer's \`slots\`, or reap with \`cc-ci audit --reap\``,
  );
}

/** Gives a slot back (only the claimant can). */
export function releaseSlot(store: LeaseStore, runId: string, slot: string): void {
  const file = path.join(store.root, "slots", `${slot}.claim`);
  try {
    if (readFileSync(file, "utf8").trim() === runId) rmSync(file, { force: true });
  } catch {
    // already gone
  }
}
