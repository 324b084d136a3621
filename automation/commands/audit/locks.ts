/**
 * What the state backend says of a stack that the Automation API does not: its lock (who holds it,
 * and whether that process is known to live) and when its state was last written. Read from the
 * files of a file backend, or from Pulumi's state table of a `postgres://` backend; other backends
 * say nothing here, and the audit judges their stacks by leases and age alone.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";
import type { Pool } from "pg";
import { PROJECT } from "../../../lib/naming";
import type { CcciEnv } from "../../adapters/env";
import { pidAlive, postgresPool, postgresState } from "../../adapters/leases";
import type { LockInfo } from "./judge";

export interface BackendFacts {
  lock(stack: string): Promise<LockInfo | undefined>;
  removeLock(stack: string): Promise<void>;
  /** When the stack's state was last written (ms since the epoch), when known. */
  stateTime(stack: string): Promise<number | undefined>;
  close(): Promise<void>;
}

/** Pulumi's lock record (the same JSON in a file or in a row). */
interface LockRecord {
  pid: number;
  hostname: string;
  timestamp?: string;
}

function lockInfo(j: LockRecord): LockInfo {
  return { pid: j.pid, host: j.hostname, time: j.timestamp, alive: processAlive(j.hostname, j.pid) };
}

const lockPrefix = (stack: string) => `.pulumi/locks/organization/${PROJECT}/${stack}/`;
const stateKeys = (stack: string) =>
  [".json", ".json.gz"].map((x) => `.pulumi/stacks/${PROJECT}/${stack}${x}`);

export function backendFacts(env: CcciEnv): BackendFacts {
  const pg = postgresState(env.backendUrl);
  if (pg) return postgresFacts(postgresPool(pg), pg.stateTable, pg.keyPrefix);
  const dir = env.backendUrl.startsWith("file://") ? env.backendUrl.slice("file://".length) : undefined;
  return dir
    ? fileFacts(dir)
    : {
        lock: async () => undefined,
        removeLock: async () => undefined,
        stateTime: async () => undefined,
        close: async () => undefined,
      };
}

function fileFacts(dir: string): BackendFacts {
  const lockDir = (stack: string) => path.join(dir, lockPrefix(stack));
  return {
    async lock(stack) {
      const d = lockDir(stack);
      if (!existsSync(d)) return undefined;
      for (const f of readdirSync(d).filter((x) => x.endsWith(".json"))) {
        try {
          return lockInfo(JSON.parse(readFileSync(path.join(d, f), "utf8")) as LockRecord);
        } catch {
          continue;
        }
      }
      return undefined;
    },
    async removeLock(stack) {
      rmSync(lockDir(stack), { recursive: true, force: true });
    },
    async stateTime(stack) {
      for (const k of stateKeys(stack)) {
        const p = path.join(dir, k);
        if (existsSync(p)) return statSync(p).mtimeMs;
      }
      return undefined;
    },
    close: async () => undefined,
  };
}

function postgresFacts(pool: Pool, table: string, keyPrefix: string): BackendFacts {
  const like = (stack: string) => `${(keyPrefix + lockPrefix(stack)).replace(/[%_\\]/g, "\\$&")}%`;
  return {
    async lock(stack) {
      // Each row is a blob: its bytes base64-encoded in the JSON's `data`.
      const rows = (
        await pool.query<{ data: { data?: string } }>(`SELECT data FROM ${table} WHERE key LIKE $1 LIMIT 1`, [
          like(stack),
        ])
      ).rows;
      if (!rows[0]?.data.data) return undefined;
      try {
        return lockInfo(JSON.parse(Buffer.from(rows[0].data.data, "base64").toString("utf8")) as LockRecord);
      } catch {
        return undefined;
      }
    },
    async removeLock(stack) {
      await pool.query(`DELETE FROM ${table} WHERE key LIKE $1`, [like(stack)]);
    },
    async stateTime(stack) {
      const rows = (
        await pool.query<{ t: Date }>(`SELECT updated_at AS t FROM ${table} WHERE key = ANY($1)`, [
          stateKeys(stack).map((k) => keyPrefix + k),
        ])
      ).rows;
      return rows[0] ? rows[0].t.getTime() : undefined;
    },
    close: () => pool.end(),
  };
}

/**
 * Whether a lock's process lives: known only on this host (by its PID). On another host it is not
 * known (undefined): the run's lease, which every agent renews wherever it runs, decides then.
 */
export function processAlive(host: string, pid: number): boolean | undefined {
  return host === hostname() ? pidAlive(pid) : undefined;
}
