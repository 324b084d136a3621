import { serviceProgress, type ServiceView, type TaskView } from "../../automation/commands/run/converge";

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
    expect(p).toEqual({
      service: "run_web_app",
      converged: false,
      detail: "0/1 running; newest task: failed (task: non-zero exit (1): dockerexec: unhealthy container)",
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
