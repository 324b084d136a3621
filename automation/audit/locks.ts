/**
 * What a file backend says of a stack that the Automation API does not: its lock (who holds it, and
 * whether that process still lives on this host) and when its state was last written.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";
import { PROJECT } from "../../lib/naming";
import type { CcciEnv } from "../env";
import type { LockInfo } from "./judge";

function backendDir(env: CcciEnv): string | undefined {
  return env.backendUrl.startsWith("file://") ? env.backendUrl.slice("file://".length) : undefined;
}

/** The file backend keeps a stack's lock as .pulumi/locks/organization/<project>/<stack>/<id>.json. */
function lockDir(env: CcciEnv, stack: string): string | undefined {
  const dir = backendDir(env);
  return dir && path.join(dir, ".pulumi", "locks", "organization", PROJECT, stack);
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

export function removeLock(env: CcciEnv, stack: string): void {
  const dir = lockDir(env, stack);
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** A lock held on another host is assumed alive: only that host (or the run's lease) can tell. */
export function processAlive(host: string, pid: number): boolean {
  if (host !== hostname()) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** When the file backend last wrote the stack's state. */
export function stackFileTime(env: CcciEnv, stack: string): number | undefined {
  const dir = backendDir(env);
  if (!dir) return undefined;
  const base = path.join(dir, ".pulumi", "stacks", PROJECT);
  for (const f of [`${stack}.json`, `${stack}.json.gz`]) {
    const p = path.join(base, f);
    if (existsSync(p)) return statSync(p).mtimeMs;
  }
  return undefined;
}
