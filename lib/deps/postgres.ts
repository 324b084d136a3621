/**
 * Units on the warm PostgreSQL: a run's database and the role that owns it, made and removed by the
 * provisioning role, which can do nothing else. The provisioning role has CREATEDB (to make the unit's
 * database) and EXECUTE on three functions a superuser defined (to give it to the run's role, to take it
 * back, to drop the role); each function refuses any name that is not a unit's (`ccci_…`). No role can
 * connect to a database it does not own: CONNECT is revoked from PUBLIC on every database.
 *
 * These functions run inside the Pulumi dynamic providers (lib/deps/resources.ts), which
 * Pulumi serialises with what they capture: each takes `pg` by `require` in its body.
 */
import type { Client, ClientConfig } from "pg";

/** The provisioning role's name. */
export const PROVISIONER = "ccci_provisioner";
/** Unit databases and roles: `ccci_<run id>_<dependency>`, e.g. ccci_note_1a2b3c_db. */
export const UNIT_PATTERN = /^ccci_[a-z0-9_]{1,58}$/;

export function unitName(runId: string, dep: string): string {
  return `ccci_${runId.replace(/-/g, "_")}_${dep}`;
}

/** What a unit's database says of itself (its comment): the run, and the state backend it belongs to. */
export interface UnitNote {
  run: string;
  owner?: string;
}

export interface PgLogin {
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
}

/** The superuser's part, applied (again) on every `up` of the warm layer: idempotent. */
export const BOOTSTRAP_SQL = `
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${PROVISIONER}') THEN
    CREATE ROLE ${PROVISIONER} LOGIN;
  END IF;
END $$;
ALTER ROLE ${PROVISIONER} WITH LOGIN CREATEDB NOCREATEROLE NOSUPERUSER NOREPLICATION NOBYPASSRLS;
REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE template1 FROM PUBLIC;
GRANT CONNECT ON DATABASE postgres TO ${PROVISIONER};
-- Audits weigh every unit (pg_database_size of a database it may not connect to).
GRANT pg_read_all_stats TO ${PROVISIONER};
CREATE SCHEMA IF NOT EXISTS ccci;
REVOKE ALL ON SCHEMA ccci FROM PUBLIC;
GRANT USAGE ON SCHEMA ccci TO ${PROVISIONER};

CREATE OR REPLACE FUNCTION ccci.adopt(db text, pw text, note text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $f$
BEGIN
  IF db !~ '${UNIT_PATTERN.source}' THEN RAISE EXCEPTION 'not a unit name: %', db; END IF;
  IF NOT EXISTS (SELECT FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
                 WHERE d.datname = db AND r.rolname IN ('${PROVISIONER}', db)) THEN
    RAISE EXCEPTION 'no unit database %', db;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = db) THEN
    EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 64 PASSWORD %L', db, pw);
  ELSE
    EXECUTE format('ALTER ROLE %I PASSWORD %L', db, pw);
  END IF;
  EXECUTE format('ALTER DATABASE %I OWNER TO %I', db, db);
  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', db);
  EXECUTE format('COMMENT ON DATABASE %I IS %L', db, note);
END $f$;

CREATE OR REPLACE FUNCTION ccci.release(db text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $f$
BEGIN
  IF db !~ '${UNIT_PATTERN.source}' THEN RAISE EXCEPTION 'not a unit name: %', db; END IF;
  IF EXISTS (SELECT FROM pg_database WHERE datname = db) THEN
    EXECUTE format('ALTER DATABASE %I OWNER TO ${PROVISIONER}', db);
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', db);
    PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = db AND pid <> pg_backend_pid();
  END IF;
END $f$;

CREATE OR REPLACE FUNCTION ccci.drop_role(db text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $f$
BEGIN
  IF db !~ '${UNIT_PATTERN.source}' THEN RAISE EXCEPTION 'not a unit name: %', db; END IF;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = db) THEN
    EXECUTE format('DROP ROLE %I', db);
  END IF;
END $f$;

REVOKE ALL ON FUNCTION ccci.adopt(text, text, text), ccci.release(text), ccci.drop_role(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ccci.adopt(text, text, text), ccci.release(text), ccci.drop_role(text) TO ${PROVISIONER};
`;

function client(login: PgLogin, database = login.database ?? "postgres"): Client {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- captured by Pulumi's serialiser
  const pg = require("pg") as typeof import("pg");
  const config: ClientConfig = { ...login, database, connectionTimeoutMillis: 10_000, query_timeout: 60_000 };
  return new pg.Client(config);
}

/** Runs `fn` on a connection, retrying the connection (not `fn`) until `waitMs` passes. */
export async function withPg<T>(
  login: PgLogin,
  fn: (c: Client) => Promise<T>,
  waitMs = 0,
  database?: string,
): Promise<T> {
  const until = Date.now() + waitMs;
  for (;;) {
    const c = client(login, database);
    try {
      await c.connect();
    } catch (e) {
      await c.end().catch(() => undefined);
      if (Date.now() >= until)
        throw new Error(`PostgreSQL at ${login.host}:${login.port}: ${(e as Error).message}`, { cause: e });
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

/** As superuser: the provisioning role, its password and the functions it may call. */
export async function bootstrap(
  superuser: PgLogin,
  provisionerPassword: string,
  waitMs = 120_000,
): Promise<void> {
  await withPg(
    superuser,
    async (c) => {
      await c.query(BOOTSTRAP_SQL);
      await c.query(`ALTER ROLE ${PROVISIONER} PASSWORD ${c.escapeLiteral(provisionerPassword)}`);
    },
    waitMs,
  );
}

function checkUnit(unit: string): void {
  if (!/^ccci_[a-z0-9_]{1,58}$/.test(unit)) throw new Error(`not a unit name: ${unit}`);
}

/**
 * Makes (or adopts, when the same run made it already) a unit: its database, the extensions it needs,
 * and its role as owner. A database of the name that belongs to another run is refused.
 */
export async function makeUnit(
  provisioner: PgLogin,
  unit: string,
  password: string,
  note: UnitNote,
  extensions: string[],
): Promise<void> {
  checkUnit(unit);
  await withPg(provisioner, async (c) => {
    const seen = await c.query<{ note: string | null }>(
      "SELECT shobj_description(oid, 'pg_database') AS note FROM pg_database WHERE datname = $1",
      [unit],
    );
    if (seen.rows.length > 0) {
      let run: string | undefined;
      try {
        run = (JSON.parse(seen.rows[0].note ?? "{}") as UnitNote).run;
      } catch {
        run = undefined;
      }
      // A database this run made and did not hand over yet has no note: it is adopted too.
      if (run !== undefined && run !== note.run)
        throw new Error(`database ${unit} exists and is not run ${note.run}'s: refusing to adopt it`);
    } else await c.query(`CREATE DATABASE ${c.escapeIdentifier(unit)}`);
  });
  if (extensions.length > 0)
    await withPg(
      provisioner,
      async (c) => {
        for (const ext of extensions) {
          try {
            await c.query(`CREATE EXTENSION IF NOT EXISTS ${c.escapeIdentifier(ext)}`);
          } catch (e) {
            throw new Error(`extension ${ext} in ${unit}: ${(e as Error).message}`, { cause: e });
          }
        }
      },
      0,
      unit,
    ).catch(async (e: Error) => {
      // Still the provisioner's database: owned by nobody else, so it can go.
      await dropUnit(provisioner, unit).catch(() => undefined);
      throw e;
    });
  await withPg(provisioner, (c) =>
    c.query("SELECT ccci.adopt($1, $2, $3)", [unit, password, JSON.stringify(note)]),
  );
}

/** Removes a unit: its database (every connection to it ended) and its role. Gone already is done. */
export async function dropUnit(provisioner: PgLogin, unit: string): Promise<void> {
  checkUnit(unit);
  await withPg(provisioner, async (c) => {
    await c.query("SELECT ccci.release($1)", [unit]);
    await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(unit)} WITH (FORCE)`);
    await c.query("SELECT ccci.drop_role($1)", [unit]);
  });
}

/** Every unit on the server, with what its note says (audits). */
export async function listUnits(
  provisioner: PgLogin,
): Promise<{ unit: string; note?: UnitNote; bytes: number }[]> {
  return withPg(provisioner, async (c) => {
    const r = await c.query<{ datname: string; note: string | null; bytes: string }>(
      `SELECT datname, shobj_description(oid, 'pg_database') AS note, pg_database_size(oid) AS bytes
         FROM pg_database WHERE datname ~ '^ccci_[a-z0-9_]+$' ORDER BY datname`,
    );
    return r.rows.map((row) => {
      let note: UnitNote | undefined;
      try {
        note = row.note ? (JSON.parse(row.note) as UnitNote) : undefined;
      } catch {
        note = undefined;
      }
      return { unit: row.datname, ...(note ? { note } : {}), bytes: Number(row.bytes) };
    });
  });
}
