/**
 * Where a run's CPU goes: the host's busy core-seconds while some work runs, split by who used them —
 * this process with the children it reaped (cc-ci, the Pulumi CLI and engine, the language host and
 * the provider plugins: every child of a Pulumi CLI is reaped by it, and the CLI by us), each
 * container by its cgroup (the warm Keycloak, its database, Traefik, the run's own containers), the
 * Docker daemons (dockerd, containerd, the shims), and the rest of the host.
 *
 * Read from /proc and the cgroup v1 cpuacct hierarchy Docker's cgroupfs driver uses; containers and
 * shims that come and go are sampled every 250 ms and kept at their last reading.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { cpus } from "node:os";
import type Docker from "dockerode";

const TICK_S = 0.01; // USER_HZ: 100 on Linux
const CGROUP = "/sys/fs/cgroup/cpuacct/docker";
const DAEMONS = /^(dockerd|containerd|containerd-shim.*|docker-proxy)$/;

function hostBusyS(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
  return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) * TICK_S;
}

/** utime+stime (+ cutime+cstime: the reaped children) of a process, in seconds. */
function procCpuS(pid: string | number, children: boolean): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat
      .slice(stat.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number);
    // After the command: state(0) ppid … utime(11) stime(12) cutime(13) cstime(14).
    return (f[11] + f[12] + (children ? f[13] + f[14] : 0)) * TICK_S;
  } catch {
    return undefined;
  }
}

export interface CpuSplit {
  wallS: number;
  hostS: number;
  parts: Record<string, number>;
}

/**
 * Runs `work` and says who used the host's CPU meanwhile. `classify` names a container's part
 * from its name (say, "warm Keycloak" or "run containers").
 */
export async function cpuSplit(
  docker: Docker,
  classify: (containerName: string) => string,
  work: () => Promise<unknown>,
): Promise<CpuSplit> {
  const names = new Map<string, string>();
  const start = new Map<string, number>();
  const last = new Map<string, number>();
  const partOf = new Map<string, string>();
  const comms = new Map<string, string>();
  const read = async (first: boolean) => {
    if (existsSync(CGROUP))
      for (const id of readdirSync(CGROUP)) {
        let ns: number;
        try {
          ns = Number(readFileSync(path.join(CGROUP, id, "cpuacct.usage"), "utf8"));
        } catch {
          continue;
        }
        const key = `c:${id}`;
        if (!names.has(id)) {
          const name = await docker
            .getContainer(id)
            .inspect()
            .then((i) => i.Name.replace(/^\//, ""))
            .catch(() => "");
          names.set(id, name);
          partOf.set(key, classify(name));
        }
        if (first) start.set(key, ns / 1e9);
        else if (!start.has(key)) start.set(key, 0); // born during the work
        last.set(key, ns / 1e9);
      }
    for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
      // A process's name read once (pids are not reused within a measurement): the sampler's own
      // CPU is part of the host's figure, so it reads as little as it can.
      let comm = comms.get(pid);
      if (comm === undefined) {
        try {
          comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
        } catch {
          continue;
        }
        comms.set(pid, comm);
      }
      if (!DAEMONS.test(comm)) continue;
      const s = procCpuS(pid, false);
      if (s === undefined) continue;
      const key = `p:${pid}`;
      partOf.set(key, "Docker daemons (dockerd, containerd, shims)");
      if (first) start.set(key, s);
      else if (!start.has(key)) start.set(key, 0);
      last.set(key, s);
    }
  };
  let samplerS = 0;
  const timed = async (first: boolean) => {
    const c0 = process.cpuUsage();
    await read(first);
    const c = process.cpuUsage(c0);
    samplerS += (c.user + c.system) / 1e6;
  };
  const self0 = procCpuS("self", true) ?? 0;
  const host0 = hostBusyS();
  const t0 = Date.now();
  await timed(true);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await new Promise((r) => setTimeout(r, 250));
      await timed(false);
    }
  })();
  await work();
  sampling = false;
  await sampler;
  await timed(false);
  const hostS = hostBusyS() - host0;
  const parts: Record<string, number> = {
    "cc-ci with its Pulumi CLIs, engines, language hosts and plugins":
      (procCpuS("self", true) ?? 0) - self0 - samplerS,
    "this sampler": samplerS,
  };
  for (const [key, end] of last) {
    const part = partOf.get(key) ?? "?";
    parts[part] = (parts[part] ?? 0) + Math.max(0, end - (start.get(key) ?? end));
  }
  const known = Object.values(parts).reduce((a, b) => a + b, 0);
  parts["the rest of the host"] = Math.max(0, hostS - known);
  return { wallS: (Date.now() - t0) / 1000, hostS, parts };
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/\(.*?\)/g, "")
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_|_$/g, "");

/** Which part of the host a container's CPU counts under, by its name. */
export function containerPart(name: string): string {
  // Another warm layer on the host (the test suite's `warm-e2e`): idle here, and no run's.
  if (/^ccci_warm-[^_]+_/.test(name)) return "other warm layers on the host (idle)";
  if (name.startsWith("ccci_warm_")) {
    if (/keycloak[-_]?db|_db[._]|postgres/.test(name)) return "warm Keycloak's database";
    if (name.includes("keycloak")) return "warm Keycloak";
    if (name.includes("traefik")) return "warm Traefik";
    return "warm layer, other";
  }
  return name ? "the runs' containers (app, tests)" : "containers gone before they were named";
}

/**
 * Why 4 runs at once cannot be within 2× of one here: the CPU one run keeps busy, by who uses it,
 * and the same for 4 at once, against what 2 cores give in the wall time.
 */
export async function cpuReport(o: {
  docker: Docker;
  say: (l: string) => void;
  figures: Record<string, number | string | boolean>;
  /** One run of the SSO example. */
  run: () => Promise<void>;
}): Promise<void> {
  const { docker, say, figures } = o;
  say("\n### Where a run's CPU goes (examples/sso on the warm layer; host busy core-seconds by user)");
  const cores = cpus().length;
  // The host at rest for as long as one run takes (the warm layers idle, whatever else the shared
  // host does): what of a run's figure it would have spent anyway.
  const idle = await cpuSplit(docker, containerPart, () => new Promise((r) => setTimeout(r, 15_000)));
  const idleRate = idle.hostS / idle.wallS;
  const cols: { label: string; k: number; split: Awaited<ReturnType<typeof cpuSplit>> }[] = [
    { label: `at rest, ${idle.wallS.toFixed(0)} s`, k: 0, split: idle },
  ];
  for (const k of [1, 4]) {
    const split = await cpuSplit(docker, containerPart, async () =>
      Promise.all(Array.from({ length: k }, o.run)),
    );
    cols.push({ label: k === 1 ? "one run" : `${k} at once`, k, split });
  }
  const parts = [...new Set(cols.flatMap((c) => Object.keys(c.split.parts)))];
  say(`| who | ${cols.map((c) => `${c.label} (core-s)`).join(" | ")} |`);
  say(`| --- | ${cols.map(() => "---").join(" | ")} |`);
  for (const p of parts) say(`| ${p} | ${cols.map((c) => (c.split.parts[p] ?? 0).toFixed(1)).join(" | ")} |`);
  say(`| **host busy** | ${cols.map((c) => `**${c.split.hostS.toFixed(1)}**`).join(" | ")} |`);
  say(`| wall time (s) | ${cols.map((c) => c.split.wallS.toFixed(1)).join(" | ")} |`);
  say(
    `| busy ÷ (wall × ${cores} cores) | ${cols.map((c) => `${((100 * c.split.hostS) / (c.split.wallS * cores)).toFixed(0)} %`).join(" | ")} |`,
  );
  // At rest for the same wall time: what the host would have spent anyway (the warm layers idle, the
  // rest of a shared host); what is left is the runs' own.
  say(
    `| the host at rest for the same wall time (${idleRate.toFixed(2)} core-s per s) | ${cols.map((c) => (idleRate * c.split.wallS).toFixed(1)).join(" | ")} |`,
  );
  say(
    `| **the runs' own (host busy − at rest)** | ${cols.map((c) => `**${(c.split.hostS - idleRate * c.split.wallS).toFixed(1)}**`).join(" | ")} |`,
  );
  const [, one, four] = cols;
  // 4 runs cannot end before the CPU they kept busy has been served by the cores: that work ÷ cores
  // is a floor on their wall time, whatever the scheduling (one run's CPU × 4 is not: some of a
  // run's CPU — Keycloak's background, the realm pool's top-up — is shared by runs at once).
  const bound = four.split.hostS / cores / one.split.wallS;
  Object.assign(figures, {
    "cpu.one.host_core_s": Math.round(one.split.hostS * 10) / 10,
    "cpu.one.wall_s": Math.round(one.split.wallS * 10) / 10,
    "cpu.four.host_core_s": Math.round(four.split.hostS * 10) / 10,
    "cpu.four.wall_s": Math.round(four.split.wallS * 10) / 10,
    "cpu.four.lower_bound_ratio": Math.round(bound * 100) / 100,
    "cpu.idle.host_core_s_per_s": Math.round(idleRate * 1000) / 1000,
    "cpu.one.own_core_s": Math.round((one.split.hostS - idleRate * one.split.wallS) * 10) / 10,
    "cpu.four.own_core_s": Math.round((four.split.hostS - idleRate * four.split.wallS) * 10) / 10,
  });
  for (const [p, v] of Object.entries(one.split.parts))
    figures[`cpu.one.${slug(p)}_core_s`] = Math.round(v * 10) / 10;
  say(
    `4 at once kept ${four.split.hostS.toFixed(1)} core-s busy: on ${cores} cores that is ≥ ${(four.split.hostS / cores).toFixed(1)} s, ≥ ${bound.toFixed(2)}× one run's ${one.split.wallS.toFixed(1)} s whatever the scheduling (measured: ${(four.split.wallS / one.split.wallS).toFixed(2)}×)`,
  );
}
