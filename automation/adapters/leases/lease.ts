/** A run's lease and the store every agent sharing the state keeps leases and claims in (index.ts tells the story). */
import { hostname } from "node:os";

/** A lease not renewed for this long is dead (default; CC_CI_LEASE_TTL_S sets it). */
export const LEASE_TTL_MS = 90_000;

/** The lease TTL this process uses: CC_CI_LEASE_TTL_S seconds, else LEASE_TTL_MS. */
export function leaseTtlMs(env: NodeJS.ProcessEnv = process.env): number {
  const s = Number(env.CC_CI_LEASE_TTL_S);
  return Number.isFinite(s) && s >= 3 ? s * 1000 : LEASE_TTL_MS;
}

/** How often a live run renews its lease: well inside the TTL. */
export function heartbeatMs(ttl = leaseTtlMs()): number {
  return Math.max(1000, Math.floor(ttl / 4.5));
}

/** Who this agent is in leases: CC_CI_AGENT, else the host name. Agents sharing state need distinct names. */
export function agentName(env: NodeJS.ProcessEnv = process.env): string {
  return env.CC_CI_AGENT?.trim() || hostname();
}

export interface Lease {
  runId: string;
  stack: string;
  /** The agent holding it (agentName). */
  host: string;
  pid: number;
  startedAt: string;
  heartbeatAt: string;
  /** The TTL its holder renews it within (the holder's CC_CI_LEASE_TTL_S): judges use this one. */
  ttlMs?: number;
}

/**
 * A lease is alive while its heartbeat is fresh — and, when this agent holds it, while its process
 * lives (a run killed outright is known dead at once here; elsewhere, once the heartbeat is stale).
 */
export function leaseAlive(lease: Lease, now = Date.now(), here = agentName()): boolean {
  if (lease.host === here && !pidAlive(lease.pid)) return false;
  return now - Date.parse(lease.heartbeatAt) < (lease.ttlMs ?? LEASE_TTL_MS);
}

/** Whether a process of this host lives (EPERM: it does, under another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Where leases and claims (slot networks, pooled realms) are kept, as every agent sharing the state sees them. */
export interface LeaseStore {
  /** Where, for messages: a folder, or the database (no password). */
  readonly where: string;
  write(lease: Lease): Promise<void>;
  remove(runId: string): Promise<void>;
  list(): Promise<Lease[]>;
  /** Claims `slot` for `runId` unless someone holds it; the holder afterwards (undefined: freed meanwhile). */
  claim(slot: string, runId: string): Promise<string | undefined>;
  /** Frees `slot`, only if `owner` still holds it. */
  unclaim(slot: string, owner: string): Promise<void>;
  /** Every claim: which run holds which slot. */
  claims(): Promise<{ slot: string; runId: string }[]>;
  close(): Promise<void>;
}
