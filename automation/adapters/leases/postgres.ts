import { Pool } from "pg";
import type { Lease, LeaseStore } from "./lease";

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
