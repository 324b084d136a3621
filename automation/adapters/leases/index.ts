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
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";
import { Pool } from "pg";
import type { CcciEnv } from "./env";

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

/** Leases as files in a folder (a file backend: agents on one host, or sharing the folder). */
export class FolderLeaseStore implements LeaseStore {
  constructor(private readonly dir: string) {}

  get where(): string {
    return this.dir;
  }

  private file(runId: string): string {
    return path.join(this.dir, `${runId}.json`);
  }

  private slotFile(slot: string): string {
    return path.join(this.dir, "slots", `${slot}.claim`);
  }

  async write(lease: Lease): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file(lease.runId)}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(lease));
    // rename is atomic: a reader sees the old or the new record, never half of one.
    renameSync(tmp, this.file(lease.runId));
  }

  async remove(runId: string): Promise<void> {
    rmSync(this.file(runId), { force: true });
  }

  async list(): Promise<Lease[]> {
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

  async claim(slot: string, runId: string): Promise<string | undefined> {
    mkdirSync(path.dirname(this.slotFile(slot)), { recursive: true, mode: 0o700 });
    try {
      // Created exclusively: the first creator wins.
      writeFileSync(this.slotFile(slot), runId, { flag: "wx", mode: 0o600 });
      return runId;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    try {
      return readFileSync(this.slotFile(slot), "utf8").trim();
    } catch {
      return undefined;
    }
  }

  async unclaim(slot: string, owner: string): Promise<void> {
    try {
      if (readFileSync(this.slotFile(slot), "utf8").trim() === owner)
        rmSync(this.slotFile(slot), { force: true });
    } catch {
      // already gone
    }
  }

  async claims(): Promise<{ slot: string; runId: string }[]> {
    const dir = path.join(this.dir, "slots");
    if (!existsSync(dir)) return [];
    const out: { slot: string; runId: string }[] = [];
    for (const f of readdirSync(dir).filter((x) => x.endsWith(".claim"))) {
      try {
        out.push({
          slot: f.slice(0, -".claim".length),
          runId: readFileSync(path.join(dir, f), "utf8").trim(),
        });
      } catch {
        continue; // released meanwhile
      }
    }
    return out;
  }

  async close(): Promise<void> {}
}

/**
 * Leases in PostgreSQL (a `postgres://` backend): every agent sharing the state sees every lease and
 * claim; a claim is a row whose primary key is the slot, so the first insert wins.
 */
export class PostgresLeaseStore implements LeaseStore {
  private readonly pool: Pool;
  private ready?: Promise<void>;
  readonly where: string;

  constructor(private readonly pg: PostgresState) {
    this.pool = postgresPool(pg);
    this.where = pg.where;
  }

  private async q<R extends object>(sql: string, values: unknown[] = []): Promise<R[]> {
    const { leasesTable: l, claimsTable: c } = this.pg;
    this.ready ??= this.pool
      .query(
        `CREATE TABLE IF NOT EXISTS ${l} (run_id text PRIMARY KEY, lease jsonb NOT NULL);
         CREATE TABLE IF NOT EXISTS ${c} (slot text PRIMARY KEY, run_id text NOT NULL)`,
      )
      .then(() => undefined)
      .catch((e: Error) => {
        this.ready = undefined;
        // Two agents creating the tables at once: one loses the race on the catalog, the tables exist.
        if (!/already exists|duplicate key/.test(e.message)) throw e;
      });
    await this.ready;
    const text = sql.replace(/\bccci_leases\b/g, l).replace(/\bccci_slot_claims\b/g, c);
    return (await this.pool.query<R>(text, values)).rows;
  }

  async write(lease: Lease): Promise<void> {
    await this.q(
      "INSERT INTO ccci_leases (run_id, lease) VALUES ($1, $2) ON CONFLICT (run_id) DO UPDATE SET lease = $2",
      [lease.runId, JSON.stringify(lease)],
    );
  }

  async remove(runId: string): Promise<void> {
    await this.q("DELETE FROM ccci_leases WHERE run_id = $1", [runId]);
  }

  async list(): Promise<Lease[]> {
    return (await this.q<{ lease: Lease }>("SELECT lease FROM ccci_leases")).map((r) => r.lease);
  }

  async claim(slot: string, runId: string): Promise<string | undefined> {
    const won = await this.q<{ run_id: string }>(
      "INSERT INTO ccci_slot_claims (slot, run_id) VALUES ($1, $2) ON CONFLICT (slot) DO NOTHING RETURNING run_id",
      [slot, runId],
    );
    if (won.length > 0) return runId;
    const held = await this.q<{ run_id: string }>("SELECT run_id FROM ccci_slot_claims WHERE slot = $1", [
      slot,
    ]);
    return held[0]?.run_id;
  }

  async unclaim(slot: string, owner: string): Promise<void> {
    await this.q("DELETE FROM ccci_slot_claims WHERE slot = $1 AND run_id = $2", [slot, owner]);
  }

  async claims(): Promise<{ slot: string; runId: string }[]> {
    return (await this.q<{ slot: string; run_id: string }>("SELECT slot, run_id FROM ccci_slot_claims")).map(
      (r) => ({ slot: r.slot, runId: r.run_id }),
    );
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * A `postgres://` state backend as node-postgres reaches it: the connection (without Pulumi's own
 * `table` parameter, which PostgreSQL would refuse), Pulumi's state table, and names for cc-ci's
 * tables beside it (suffixed with a non-default state table's name, so each state has its own).
 */
export interface PostgresState {
  connectionString: string;
  stateTable: string;
  leasesTable: string;
  claimsTable: string;
  /** What Pulumi puts before every key in its table: the URL's path (the database name) and "/". */
  keyPrefix: string;
  /** For messages: host and database, never the password. */
  where: string;
}

export function postgresState(backendUrl: string): PostgresState | undefined {
  if (!/^postgres(ql)?:\/\//.test(backendUrl)) return undefined;
  const u = new URL(backendUrl);
  const table = u.searchParams.get("table") ?? "";
  if (table !== "" && !/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(table))
    throw new Error(`PULUMI_BACKEND_URL: table=${table} is not a plain table name`);
  u.searchParams.delete("table");
  const suffix = table ? `_${table}` : "";
  return {
    connectionString: u.toString(),
    stateTable: table || "pulumi_state",
    leasesTable: `ccci_leases${suffix}`,
    claimsTable: `ccci_slot_claims${suffix}`,
    keyPrefix: u.pathname.replace(/^\/+/, "") ? `${u.pathname.replace(/^\/+/, "")}/` : "",
    where: `PostgreSQL ${u.host}${u.pathname}${table ? ` (table ${table})` : ""}`,
  };
}

/** A small pool that never keeps a finished command alive. */
export function postgresPool(pg: PostgresState): Pool {
  const pool = new Pool({
    connectionString: pg.connectionString,
    max: 2,
    idleTimeoutMillis: 1000,
    allowExitOnIdle: true,
  });
  pool.on("error", () => undefined); // an idle client's broken connection; the next query reconnects
  return pool;
}

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
