import {
  crashReport,
  keepsFailing,
  serviceProgress,
  type ServiceProgress,
  type ServiceView,
  type TaskView,
} from "../../automation/commands/run/converge";
import { byTime, demuxLogs, safeLines } from "../../automation/adapters/dockerLogs";

const svc = (mode: NonNullable<ServiceView["Spec"]>["Mode"]): ServiceView => ({
  ID: "s1",
  Spec: { Name: "run_web_app", Mode: mode },
});
let clock = Date.parse("2026-11-29T10:00:00Z");
const task = (state: string, extra: Partial<TaskView> = {}): TaskView => ({
  ServiceID: "s1",
  Slot: 1,
  DesiredState: "running",
  ...extra,
  Status: { State: state, Timestamp: new Date((clock += 1000)).toISOString(), ...extra.Status },
});

describe("converge: a service is converged as docker stack deploy --detach=false judges it", () => {
  test("a replicated service: converged once every slot's newest task runs", () => {
    const mode = { Replicated: { Replicas: 2 } };
    expect(serviceProgress(svc(mode), [task("running"), task("starting", { Slot: 2 })])).toMatchObject({
      converged: false,
      detail: "1/2 running; newest task: starting",
    });
    expect(serviceProgress(svc(mode), [task("running"), task("running", { Slot: 2 })]).converged).toBe(true);
  });

  test("a healthcheck that never passes: never converged, the task's error named", () => {
    const failed = task("failed", {
      DesiredState: "shutdown",
      Status: { Err: "task: non-zero exit (1): dockerexec: unhealthy container" },
    });
    const p = serviceProgress(svc({ Replicated: { Replicas: 1 } }), [failed]);
    expect(p).toMatchObject({
      service: "run_web_app",
      converged: false,
      detail: "0/1 running; newest task: failed (task: non-zero exit (1): dockerexec: unhealthy container)",
      ended: 1,
      lastEnd: { state: "failed", error: "task: non-zero exit (1): dockerexec: unhealthy container" },
    });
  });

  test("an older failed task in a slot does not count against the running replacement", () => {
    const p = serviceProgress(svc({ Replicated: { Replicas: 1 } }), [
      task("failed", { DesiredState: "shutdown" }),
      task("running"),
    ]);
    expect(p.converged).toBe(true);
  });

  test("an old running task being shut down does not count", () => {
    const p = serviceProgress(svc({ Replicated: { Replicas: 1 } }), [
      task("running", { DesiredState: "shutdown" }),
    ]);
    expect(p.converged).toBe(false);
  });

  test("zero replicas is converged at once", () => {
    expect(serviceProgress(svc({ Replicated: { Replicas: 0 } }), []).converged).toBe(true);
  });

  test("a global service: every node's newest task running", () => {
    const mode = { Global: {} };
    const a = task("running", { Slot: undefined, NodeID: "n1" });
    const b = task("preparing", { Slot: undefined, NodeID: "n2" });
    expect(serviceProgress(svc(mode), [a, b])).toMatchObject({
      converged: false,
      detail: expect.stringMatching(/^1\/2 nodes/),
    });
    expect(
      serviceProgress(svc(mode), [a, task("running", { Slot: undefined, NodeID: "n2" })]).converged,
    ).toBe(true);
    expect(serviceProgress(svc(mode), []).converged).toBe(false);
  });

  test("a job: its completions done", () => {
    const mode = { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 2 } };
    const done = (slot: number) => task("complete", { Slot: slot, DesiredState: "complete" });
    expect(serviceProgress(svc(mode), [done(1)]).converged).toBe(false);
    expect(serviceProgress(svc(mode), [done(1), done(2)]).converged).toBe(true);
  });

  test("tasks of other services are not counted", () => {
    const p = serviceProgress(svc({ Replicated: { Replicas: 1 } }), [
      task("running", { ServiceID: "other" }),
    ]);
    expect(p).toMatchObject({ converged: false, detail: "0/1 running; newest task: no task yet" });
  });
});

describe("converge: stable tasks, and a service that keeps failing", () => {
  const one = svc({ Replicated: { Replicas: 1 } });
  const at = (iso: string, state: string, extra: Partial<TaskView> = {}): TaskView => ({
    ServiceID: "s1",
    Slot: 1,
    DesiredState: "running",
    ...extra,
    Status: { State: state, Timestamp: iso, ...extra.Status },
  });
  const now = Date.parse("2026-12-07T10:00:10Z");

  test("a task running for less than the stable period is not converged yet; past it, it is", () => {
    const t = at("2026-12-07T10:00:07Z", "running");
    expect(serviceProgress(one, [t], { stableMs: 5000, now }).converged).toBe(false);
    expect(serviceProgress(one, [t], { stableMs: 3000, now }).converged).toBe(true);
    expect(serviceProgress(one, [t], { stableMs: 5000, now: now + 2000 }).converged).toBe(true);
  });

  test("ends are counted with the newest's exit code; Docker's own shutdowns (exit 0) are not ends", () => {
    const crash = (s: number) =>
      at(`2026-12-07T10:00:0${s}Z`, "failed", {
        DesiredState: "shutdown",
        Status: { Err: "task: non-zero exit (3)", ContainerStatus: { ExitCode: 3 } },
      });
    const stopped = at("2026-12-07T10:00:01Z", "shutdown", {
      DesiredState: "shutdown",
      Status: { ContainerStatus: { ExitCode: 0 } },
    });
    const p = serviceProgress(
      one,
      [crash(2), crash(5), stopped, crash(8), at("2026-12-07T10:00:09Z", "starting")],
      {
        now,
      },
    );
    expect(p).toMatchObject({
      converged: false,
      ended: 3,
      lastEnd: { state: "failed", exitCode: 3, error: "task: non-zero exit (3)" },
    });
    // An app that exits 0 where it should keep running has ended too (its restart is a loop).
    expect(serviceProgress(one, [at("2026-12-07T10:00:02Z", "complete")], { now }).ended).toBe(1);
    // A job's completion is its success, not an end.
    expect(
      serviceProgress(
        svc({ ReplicatedJob: { TotalCompletions: 1 } }),
        [at("2026-12-07T10:00:02Z", "complete")],
        {
          now,
        },
      ).ended,
    ).toBe(0);
  });

  test("the crash report names the service, the exit code, the error and the log's last lines", () => {
    const p = serviceProgress(
      one,
      [
        at("2026-12-07T10:00:02Z", "failed", {
          Status: { Err: "task: non-zero exit (3)", ContainerStatus: { ExitCode: 3 } },
        }),
      ],
      { now },
    );
    expect(crashReport(p, ["FATAL: DATABASE_URL is not set"])).toEqual({
      headline: "run_web_app ended 1 time (the last failed, exit code 3: task: non-zero exit (3))",
      log: "run_web_app, its last log lines:\n  | FATAL: DATABASE_URL is not set",
    });
    expect(crashReport(p, []).log).toBe("run_web_app logged nothing");
  });
});

describe("converge: a service keeps failing only once what it may wait for is up", () => {
  const progress = (
    service: string,
    p: { converged?: boolean; endedAt?: number[]; upSince?: number },
  ): ServiceProgress => ({
    service,
    converged: p.converged ?? false,
    detail: "",
    ended: p.endedAt?.length ?? 0,
    endedAt: p.endedAt ?? [],
    upSince: p.upSince,
  });

  test("alone: its third end fails it", () => {
    const app = progress("app", { endedAt: [1, 2, 3] });
    expect(keepsFailing(app, [app], 3)).toBe(true);
    const twice = progress("app", { endedAt: [1, 2] });
    expect(keepsFailing(twice, [twice], 3)).toBe(false);
  });

  test("while its database is not up, its ends are tolerated (up to three times the limit)", () => {
    const db = progress("db", {});
    const app = progress("app", { endedAt: [1, 2, 3, 4, 5] });
    expect(keepsFailing(app, [app, db], 3)).toBe(false);
    const many = progress("app", { endedAt: [1, 2, 3, 4, 5, 6, 7, 8, 9] });
    expect(keepsFailing(many, [many, db], 3)).toBe(true);
  });

  test("once the database is up, only the ends after that count", () => {
    const db = progress("db", { converged: true, upSince: 10 });
    expect(keepsFailing(progress("app", { endedAt: [4, 6, 8, 12] }), [db], 3)).toBe(false);
    expect(keepsFailing(progress("app", { endedAt: [4, 12, 14, 16] }), [db], 3)).toBe(true);
    // A converged service never keeps failing, whatever it went through.
    expect(keepsFailing(progress("app", { converged: true, endedAt: [1, 2, 3, 4] }), [db], 3)).toBe(false);
  });
});

describe("service logs, bounded", () => {
  const frame = (stream: number, text: string) => {
    const body = Buffer.from(text);
    const head = Buffer.alloc(8);
    head[0] = stream;
    head.writeUInt32BE(body.length, 4);
    return Buffer.concat([head, body]);
  };

  test("Docker's multiplexed frames are joined (stdout and stderr); a TTY's raw text is kept", () => {
    const buf = Buffer.concat([frame(1, "starting\n"), frame(2, "FATAL: no database\n")]);
    expect(demuxLogs(buf)).toBe("starting\nFATAL: no database\n");
    expect(demuxLogs(Buffer.from("plain text\n"))).toBe("plain text\n");
    // A frame cut short keeps what arrived.
    expect(demuxLogs(frame(1, "abcdef").subarray(0, 11))).toBe("abc");
  });

  test("control characters are shown as ?, long lines cut, only the last lines kept", () => {
    const lines = safeLines(`one\n\u001b[31mred\u001b[0m\r\n${"x".repeat(1000)}\n\nlast\n`, 3);
    expect(lines).toEqual(["?[31mred?[0m", `${"x".repeat(400)} … (600 more characters)`, "last"]);
  });

  test("lines of several tasks in time order, shown with the time of day", () => {
    expect(
      byTime([
        "2026-12-07T10:00:05.5Z second task",
        "2026-12-07T10:00:01.123456789Z first task",
        "not stamped",
      ]),
    ).toEqual(["not stamped", "10:00:01.123 first task", "10:00:05.500 second task"]);
  });
});
