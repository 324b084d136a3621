/**
 * The converge phase: after `up` created the recipe's services, wait until each is converged as
 * `docker service create`/`docker stack deploy --detach=false` (and abra's converge check) judge it:
 * every replica slot's newest task running (a task with a healthcheck reports `running` only once it
 * is healthy) and running for a stable period — Docker's "verify that tasks are stable", 5 s —, every
 * node of a global service running one, a job's completions done. Polled through the Docker API every
 * 250 ms, where the provider polls every few seconds.
 *
 * A service that keeps failing does not get the whole timeout: once its tasks have ended `crashLimit`
 * times (exited — with an error or not —, or rejected) since every other service of the run was up,
 * the phase fails at once naming the service, the last task's exit code and error, and the last lines
 * of its log. Ends while another service is not up yet are tolerated, as Docker tolerates them (an
 * app that exits until its database answers is restarted and converges), up to three times as many.
 * On timeout the error names each service that is not there yet with its newest task's state.
 */
import type Docker from "dockerode";
import { LABELS } from "../../../lib/naming";
import { serviceLogTail } from "../../adapters/dockerLogs";

/** The parts of a swarm task the judgement reads (Docker API shapes). */
export interface TaskView {
  ID?: string;
  ServiceID?: string;
  Slot?: number;
  NodeID?: string;
  DesiredState?: string;
  CreatedAt?: string;
  Status?: {
    State?: string;
    Err?: string;
    Message?: string;
    Timestamp?: string;
    ContainerStatus?: { ExitCode?: number };
  };
}

/** The parts of a swarm service the judgement reads. */
export interface ServiceView {
  ID: string;
  Spec?: {
    Name?: string;
    Mode?: {
      Replicated?: { Replicas?: number };
      Global?: object;
      ReplicatedJob?: { MaxConcurrent?: number; TotalCompletions?: number };
      GlobalJob?: object;
    };
  };
}

export interface ServiceProgress {
  service: string;
  /** Docker's service id (for its logs). */
  id?: string;
  converged: boolean;
  /** e.g. "0/1 running; newest task: starting" */
  detail: string;
  /** How many of its tasks ended (failed, rejected, or exited where a service should run). */
  ended: number;
  /** The newest of those. */
  lastEnd?: { state: string; exitCode?: number; error?: string };
  /** When each of those ended (ms). */
  endedAt: number[];
  /** When a converged service's last task came up (ms); undefined while it is not converged. */
  upSince?: number;
}

/** How a wait judges: the stable period tasks must run for, and the task ends that fail it at once. */
export interface ConvergeRules {
  /** Milliseconds each running task must have been running. Default 0 (the unit tests' shapes). */
  stableMs?: number;
  now?: number;
}

/** States a task of a service that should run ends in (a job's `complete` is its success). */
const ENDED = new Set(["failed", "rejected", "complete", "shutdown", "orphaned"]);

const when = (t: TaskView) => Date.parse(t.Status?.Timestamp ?? t.CreatedAt ?? "") || 0;

/** The newest task of each group (replica slot or node). */
function newestBy(tasks: TaskView[], key: (t: TaskView) => string): TaskView[] {
  const newest = new Map<string, TaskView>();
  for (const t of tasks) {
    const k = key(t);
    const had = newest.get(k);
    if (!had || when(t) >= when(had)) newest.set(k, t);
  }
  return [...newest.values()];
}

function describe(t: TaskView | undefined): string {
  if (!t) return "no task yet";
  const s = t.Status ?? {};
  const why = s.Err || (s.State !== "running" ? s.Message : undefined);
  return `${s.State ?? "unknown"}${why ? ` (${why})` : ""}`;
}

/** The tasks that ended where they should have run: a task Docker stopped on purpose is not one. */
function endedTasks(tasks: TaskView[], job: boolean): TaskView[] {
  return tasks.filter((t) => {
    const state = t.Status?.State ?? "";
    if (!ENDED.has(state)) return false;
    if (job) return state === "failed" || state === "rejected";
    // `shutdown` is what Docker's own stop (a scale-down, an update) leaves: not an end of the task's
    // own making — unless its container exited with an error code.
    if (state === "shutdown" || state === "orphaned") return (t.Status?.ContainerStatus?.ExitCode ?? 0) !== 0;
    return true;
  });
}

/** How many of a service's tasks ended where they should have run, when, and the newest's reason. */
function endsOf(id: string, tasks: TaskView[], job: boolean) {
  const ended = endedTasks(tasks, job).sort((a, b) => when(b) - when(a));
  const last = ended[0];
  return {
    id,
    ended: ended.length,
    endedAt: ended.map(when),
    lastEnd: last
      ? {
          state: last.Status?.State ?? "unknown",
          exitCode: last.Status?.ContainerStatus?.ExitCode,
          error: last.Status?.Err || last.Status?.Message,
        }
      : undefined,
  };
}

/** Whether one service has converged, from its tasks (pure: the unit tests feed it shapes). */
export function serviceProgress(
  svc: ServiceView,
  tasks: TaskView[],
  rules: ConvergeRules = {},
): ServiceProgress {
  const name = svc.Spec?.Name ?? svc.ID;
  const mode = svc.Spec?.Mode ?? { Replicated: { Replicas: 1 } };
  const mine = tasks.filter((t) => t.ServiceID === undefined || t.ServiceID === svc.ID);
  const latest = [...mine].sort((a, b) => when(b) - when(a))[0];
  const stableMs = rules.stableMs ?? 0;
  const now = rules.now ?? Date.now();
  // Running, and (with a stable period) running since long enough: Status.Timestamp is its last change.
  const running = (t: TaskView) =>
    t.Status?.State === "running" && t.DesiredState === "running" && now - when(t) >= stableMs;
  const job = Boolean(mode.ReplicatedJob || mode.GlobalJob);
  const ends = endsOf(svc.ID, mine, job);
  const result = (p: { converged: boolean; detail: string }, up: TaskView[] = []): ServiceProgress => ({
    service: name,
    ...p,
    ...ends,
    upSince: p.converged ? Math.max(0, ...up.map(when)) : undefined,
  });
  if (job) {
    const done = mine.filter((t) => t.Status?.State === "complete").length;
    const want = mode.ReplicatedJob
      ? (mode.ReplicatedJob.TotalCompletions ?? mode.ReplicatedJob.MaxConcurrent ?? 1)
      : Math.max(1, new Set(mine.map((t) => t.NodeID)).size);
    return result({
      converged: done >= want,
      detail: `${done}/${want} complete; newest task: ${describe(latest)}`,
    });
  }
  if (mode.Global) {
    const perNode = newestBy(
      mine.filter((t) => t.NodeID),
      (t) => t.NodeID as string,
    ).filter((t) => t.DesiredState === "running" || t.Status?.State === "running");
    const up = perNode.filter(running).length;
    return result(
      {
        converged: perNode.length > 0 && up === perNode.length,
        detail: `${up}/${perNode.length || "?"} nodes running; newest task: ${describe(latest)}`,
      },
      perNode,
    );
  }
  const want = mode.Replicated?.Replicas ?? 1;
  const slots = newestBy(
    mine.filter((t) => t.Slot !== undefined),
    (t) => String(t.Slot),
  );
  const up = slots.filter(running).length;
  return result(
    { converged: up >= want, detail: `${up}/${want} running; newest task: ${describe(latest)}` },
    slots,
  );
}

/**
 * Whether a service keeps failing: `limit` ends since every other service of the run was up (all of
 * them, when it is the only one), or three times as many in all — it is not waiting for another.
 */
export function keepsFailing(p: ServiceProgress, all: ServiceProgress[], limit: number): boolean {
  if (p.converged) return false;
  if (p.ended >= 3 * limit) return true;
  const others = all.filter((q) => q !== p);
  if (others.some((q) => !q.converged)) return false;
  const since = Math.max(-Infinity, ...others.map((q) => q.upSince ?? 0));
  return p.endedAt.filter((t) => t >= since).length >= limit;
}

/** Reads the run's services and their tasks once. */
export async function runProgress(
  docker: Docker,
  runId: string,
  rules: ConvergeRules = {},
): Promise<ServiceProgress[]> {
  const services = (await docker.listServices({
    filters: JSON.stringify({ label: [`${LABELS.run}=${runId}`] }),
  })) as ServiceView[];
  if (services.length === 0) return [];
  const tasks = (await docker.listTasks({
    filters: JSON.stringify({ service: services.map((s) => s.ID) }),
  })) as TaskView[];
  const now = Date.now();
  return services
    .map((s) => serviceProgress(s, tasks, { ...rules, now }))
    .sort((a, b) => a.service.localeCompare(b.service));
}

/** How a service that keeps failing is described: its last end, then its log's last lines. */
export function crashReport(p: ServiceProgress, log: string[]): { headline: string; log: string } {
  const end = p.lastEnd;
  const code = end?.exitCode !== undefined ? `, exit code ${end.exitCode}` : "";
  const why = end?.error ? `: ${end.error}` : "";
  const times = `${p.ended} time${p.ended === 1 ? "" : "s"}`;
  return {
    headline: `${p.service} ended ${times} (the last ${end?.state ?? "ended"}${code}${why})`,
    log:
      log.length > 0
        ? `${p.service}, its last log lines:\n${log.map((l) => `  | ${l}`).join("\n")}`
        : `${p.service} logged nothing`,
  };
}

export interface ConvergeOptions {
  /** Seconds every task must have been running (Docker waits 5). */
  stableSeconds: number;
  /** Task ends after which a service fails the phase at once. */
  crashLimit: number;
  intervalMs?: number;
}

/** Waits until every service of the run has converged; throws naming the ones that have not. */
export async function waitConverged(
  docker: Docker,
  runId: string,
  timeoutMs: number,
  signal: AbortSignal,
  opts: ConvergeOptions = { stableSeconds: 0, crashLimit: Infinity },
): Promise<ServiceProgress[]> {
  const deadline = Date.now() + timeoutMs;
  const rules = { stableMs: opts.stableSeconds * 1000 };
  let last: ServiceProgress[];
  for (;;) {
    if (signal.aborted) throw new Error("converge: interrupted");
    last = await runProgress(docker, runId, rules);
    const all = last;
    const crashed = last.filter((p) => keepsFailing(p, all, opts.crashLimit));
    if (crashed.length > 0) {
      const reports = await Promise.all(
        crashed.map(async (p) =>
          crashReport(p, p.id ? await serviceLogTail(docker, p.id, 20).catch(() => []) : []),
        ),
      );
      // The first line is what the summary shows; the log lines follow.
      throw new Error(
        `the recipe's services keep failing: ${reports.map((r) => r.headline).join("; ")}\n${reports.map((r) => r.log).join("\n")}`,
      );
    }
    if (last.every((p) => p.converged)) return last;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
  const waiting = last.filter((p) => !p.converged).map((p) => `${p.service}: ${p.detail}`);
  throw new Error(
    `the recipe's services did not converge within ${Math.round(timeoutMs / 1000)} s: ${waiting.join("; ")}`,
  );
}
