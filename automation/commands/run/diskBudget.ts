/**
 * A run's disk, watched while it runs: its volumes and its containers' writable layers, on every
 * node whose engine answers, and its units on the warm dependencies (a database's size, what a
 * bucket holds), against the run's budget (limits.disk). Over it, the run is stopped with
 * the reason and torn down like any failed run. The containers' logs are bounded by construction
 * (every service logs to rotated files, lib/recipe/service.ts boundedLogging) and so not measured.
 */
import type Docker from "dockerode";
import { LABELS } from "../../../lib/naming";
import { humanBytes } from "../../../lib/units";
import { nodeEngines } from "../../adapters/docker";
import type { DepPlan } from "../../../lib/deps/plan";
import { withPg } from "../../../lib/deps/postgres";
import { bucketBytes, s3Admin } from "../../../lib/deps/s3";

export interface DiskUse {
  volumes: number;
  layers: number;
  /** What its units on warm dependencies hold. */
  units: number;
  /** The largest parts, for the reason a run is stopped. */
  largest: { what: string; bytes: number }[];
}

/** What the run `runId` holds on disk now. */
export async function runDiskUse(docker: Docker, runId: string, deps: DepPlan[] = []): Promise<DiskUse> {
  const filters = JSON.stringify({ label: [`${LABELS.run}=${runId}`] });
  const { others } = await nodeEngines(docker).catch(() => ({ others: [] as { docker: Docker }[] }));
  const use: DiskUse = { volumes: 0, layers: 0, units: 0, largest: [] };
  for (const u of await warmUnitBytes(deps)) {
    use.units += u.bytes;
    use.largest.push(u);
  }
  for (const d of [docker, ...others.map((e) => e.docker)]) {
    const containers = (await d.listContainers({ all: true, size: true, filters })) as {
      Names?: string[];
      SizeRw?: number;
    }[];
    for (const c of containers) {
      const bytes = Math.max(0, c.SizeRw ?? 0);
      use.layers += bytes;
      use.largest.push({ what: `container ${(c.Names?.[0] ?? "?").replace(/^\//, "")}`, bytes });
    }
    // The engine's usage of volumes (API 1.41 computes every volume's; the run's are picked by label).
    const df = (await d.df()) as {
      Volumes?: { Name: string; Labels?: Record<string, string>; UsageData?: { Size?: number } }[];
    };
    for (const v of df.Volumes ?? []) {
      if (v.Labels?.[LABELS.run] !== runId) continue;
      const bytes = Math.max(0, v.UsageData?.Size ?? 0);
      use.volumes += bytes;
      use.largest.push({ what: `volume ${v.Name}`, bytes });
    }
  }
  use.largest.sort((a, b) => b.bytes - a.bytes);
  use.largest = use.largest.slice(0, 3);
  return use;
}

const total = (u: DiskUse) => u.volumes + u.layers + u.units;

/** What the run's units on warm dependencies hold; a unit not made yet holds nothing. */
async function warmUnitBytes(deps: DepPlan[]): Promise<{ what: string; bytes: number }[]> {
  const out: { what: string; bytes: number }[] = [];
  for (const d of deps) {
    if (d.kind === "oidc" || d.mode !== "warm" || !d.warm) continue;
    if (d.kind === "postgres") {
      const p = d.warm;
      const login = {
        host: p.adminHost,
        port: p.adminPort,
        user: p.provisioning.user,
        password: p.provisioning.password,
      };
      const r = await withPg(login, (c) =>
        c.query<{ bytes: string }>(
          "SELECT pg_database_size(datname) AS bytes FROM pg_database WHERE datname = $1",
          [d.unit],
        ),
      );
      out.push({ what: `postgres unit ${d.unit}`, bytes: Number(r.rows[0]?.bytes ?? 0) });
    } else {
      const api = s3Admin(d.warm).api;
      let bytes = 0;
      for (const b of d.buckets) bytes += await bucketBytes(api, b);
      out.push({ what: `s3 unit ${d.unit}`, bytes });
    }
  }
  return out;
}

/** Why a run was stopped: it went past its disk budget. */
export class DiskBudgetError extends Error {
  constructor(used: DiskUse, budget: number) {
    super(
      `the run uses ${humanBytes(total(used))} of disk, over its budget of ${humanBytes(budget)} (limits.disk): ${used.largest.map((l) => `${l.what} ${humanBytes(l.bytes)}`).join(", ")}`,
    );
    this.name = "DiskBudgetError";
  }
}

/**
 * Measures the run's disk every `everyMs` until stopped; the first time it is over `budget`, calls
 * `over` once. A measurement that fails (an engine going away) is tried again at the next tick.
 */
export function watchDisk(
  docker: Docker,
  runId: string,
  budget: number,
  over: (e: DiskBudgetError) => void,
  everyMs = 10_000,
  deps: DepPlan[] = [],
): { stop(): void } {
  let done = false;
  let running: Promise<void> = Promise.resolve();
  const check = async () => {
    if (done) return;
    const used = await runDiskUse(docker, runId, deps).catch(() => undefined);
    if (!done && used && total(used) > budget) {
      done = true;
      over(new DiskBudgetError(used, budget));
    }
  };
  const timer = setInterval(() => {
    running = running.then(check);
  }, everyMs);
  timer.unref();
  return {
    stop() {
      done = true;
      clearInterval(timer);
    },
  };
}
