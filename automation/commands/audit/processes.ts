/**
 * Host processes a killed run leaves: when a run's Pulumi CLI dies without closing its plugins (the
 * agent was SIGKILLed), its provider plugins, language host and dynamic-provider host keep running,
 * re-parented to init, each in a process group of its own. They are found by the run's Pulumi home in
 * a provider's path (`<home>/homes/run-<run id>/plugins/…`) and by the engine address every plugin
 * of that CLI was started with (their last argument), and only when orphaned (parent pid 1, or a
 * child of one of them).
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";

export interface ProcInfo {
  pid: number;
  ppid: number;
  args: string[];
}

export interface OrphanProcess {
  pid: number;
  runId: string;
  command: string;
  killed?: boolean;
}

/** Every process on this host that can be read (Linux /proc). */
export function listProcesses(proc = "/proc"): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of readdirSync(proc)) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const args = readFileSync(path.join(proc, d, "cmdline"), "utf8")
        .split("\0")
        .filter(Boolean);
      // stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(path.join(proc, d, "stat"), "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (args.length > 0) out.push({ pid: Number(d), ppid, args });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

/**
 * The orphaned plugin processes of runs that are not live (pure: the unit tests feed it tables).
 * `homes` is `$CC_CI_HOME/homes`.
 */
export function orphanedPlugins(
  procs: readonly ProcInfo[],
  homes: string,
  live: ReadonlySet<string>,
): OrphanProcess[] {
  const prefix = `${homes.replace(/\/+$/, "")}/run-`;
  const byAddress = new Map<string, string>();
  for (const p of procs) {
    const exe = p.args[0] ?? "";
    if (!exe.startsWith(prefix)) continue;
    const runId = /^([a-z0-9]+-[0-9a-f]{6})\/plugins\//.exec(exe.slice(prefix.length))?.[1];
    const address = p.args[p.args.length - 1];
    if (runId && !live.has(runId) && /^127\.0\.0\.1:\d+$/.test(address)) byAddress.set(address, runId);
  }
  if (byAddress.size === 0) return [];
  const mine = new Map<number, string>();
  for (const p of procs) {
    const runId = byAddress.get(p.args[p.args.length - 1]);
    if (runId) mine.set(p.pid, runId);
  }
  // Only what no living CLI holds: re-parented to init, or a child of such an orphan.
  const orphan = new Set(procs.filter((p) => mine.has(p.pid) && p.ppid === 1).map((p) => p.pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs)
      if (mine.has(p.pid) && !orphan.has(p.pid) && orphan.has(p.ppid)) grew = Boolean(orphan.add(p.pid));
  }
  return procs
    .filter((p) => orphan.has(p.pid))
    .map((p) => ({ pid: p.pid, runId: mine.get(p.pid) as string, command: p.args.join(" ").slice(0, 200) }));
}

/** SIGTERM, then SIGKILL for what is still there after a second; `killed` tells what is gone. */
export async function killProcesses(orphans: OrphanProcess[]): Promise<void> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const send = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // gone already
    }
  };
  const pause = () => new Promise((r) => setTimeout(r, 100));
  for (const o of orphans) send(o.pid, "SIGTERM");
  for (let i = 0; i < 10 && orphans.some((o) => alive(o.pid)); i++) await pause();
  for (const o of orphans) if (alive(o.pid)) send(o.pid, "SIGKILL");
  await pause();
  for (const o of orphans) o.killed = !alive(o.pid);
}
