/**
 * The converge phase: after `up` created the recipe's services, wait until each is converged as
 * `docker service create`/`docker stack deploy --detach=false` (and abra's converge check) judge it:
 * every replica slot's newest task running (a task with a healthcheck reports `running` only once it
 * is healthy), every node of a global service running one, a job's completions done. Polled through
 * the Docker API every 250 ms, where the provider polls every few seconds; on timeout the error names
 * each service that is not there yet with its newest task's state and error.
 */
import type Docker from "dockerode";
import { LABELS } from "../../../lib/naming";

/** The parts of a swarm task the judgement reads (Docker API shapes). */
export interface TaskView {
  ServiceID?: string;
  Slot?: number;
  NodeID?: string;
  DesiredState?: string;
  CreatedAt?: string;
  Status?: { State?: string; Err?: string; Message?: string; Timestamp?: string };
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
  converged: boolean;
  /** e.g. "0/1 running; newest task: starting" */
  detail: string;
}

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

/** Whether one service has converged, from its tasks (pure: the unit tests feed it shapes). */
export function serviceProgress(svc: ServiceView, tasks: TaskView[]): ServiceProgress {
  const name = svc.Spec?.Name ?? svc.ID;
  const mode = svc.Spec?.Mode ?? { Replicated: { Replicas: 1 } };
  const mine = tasks.filter((t) => t.ServiceID === undefined || t.ServiceID === svc.ID);
  const latest = [...mine].sort((a, b) => when(b) - when(a))[0];
  const running = (t: TaskView) => t.Status?.State === "running" && t.DesiredState === "running";
  if (mode.ReplicatedJob || mode.GlobalJob) {
    const done = mine.filter((t) => t.Status?.State === "complete").length;
    const want = mode.ReplicatedJob
      ? (mode.ReplicatedJob.TotalCompletions ?? mode.ReplicatedJob.MaxConcurrent ?? 1)
      : Math.max(1, new Set(mine.map((t) => t.NodeID)).size);
    const ok = done >= want;
    return {
      service: name,
      converged: ok,
      detail: `${done}/${want} complete; newest task: ${describe(latest)}`,
    };
  }
  if (mode.Global) {
    const perNode = newestBy(
      mine.filter((t) => t.NodeID),
      (t) => t.NodeID as string,
    ).filter((t) => t.DesiredState === "running" || t.Status?.State === "running");
    const up = perNode.filter(running).length;
    const ok = perNode.length > 0 && up === perNode.length;
    return {
      service: name,
      converged: ok,
      detail: `${up}/${perNode.length || "?"} nodes running; newest task: ${describe(latest)}`,
    };
  }
  const want = mode.Replicated?.Replicas ?? 1;
  const slots = newestBy(
    mine.filter((t) => t.Slot !== undefined),
    (t) => String(t.Slot),
  );
  const up = slots.filter(running).length;
  return {
    service: name,
    converged: up >= want,
    detail: `${up}/${want} running; newest task: ${describe(latest)}`,
  };
}

/** Reads the run's services and their tasks once. */
export async function runProgress(docker: Docker, runId: string): Promise<ServiceProgress[]> {
  const services = (await docker.listServices({
    filters: JSON.stringify({ label: [`${LABELS.run}=${runId}`] }),
  })) as ServiceView[];
  if (services.length === 0) return [];
  const tasks = (await docker.listTasks({
    filters: JSON.stringify({ service: services.map((s) => s.ID) }),
  })) as TaskView[];
  return services.map((s) => serviceProgress(s, tasks)).sort((a, b) => a.service.localeCompare(b.service));
}

/** Waits until every service of the run has converged; throws naming the ones that have not. */
export async function waitConverged(
  docker: Docker,
  runId: string,
  timeoutMs: number,
  signal: AbortSignal,
  intervalMs = 250,
): Promise<ServiceProgress[]> {
  const deadline = Date.now() + timeoutMs;
  let last: ServiceProgress[];
  for (;;) {
    if (signal.aborted) throw new Error("converge: interrupted");
    last = await runProgress(docker, runId);
    if (last.every((p) => p.converged)) return last;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const waiting = last.filter((p) => !p.converged).map((p) => `${p.service}: ${p.detail}`);
  throw new Error(
    `the recipe's services did not converge within ${Math.round(timeoutMs / 1000)} s: ${waiting.join("; ")}`,
  );
}
