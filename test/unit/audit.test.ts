/** The audit's decisions: stale stacks, residue, and what is never touched (young, leased, unlabelled). */
import { imagesToPrune } from "../../automation/commands/audit/disk";
import { isResidue, judgeStack, liveRunIds, type AuditLimits } from "../../automation/commands/audit/judge";
import { hostname } from "node:os";
import { LEASE_TTL_MS, leaseAlive, type Lease } from "../../automation/adapters/leases";

const NOW = Date.parse("2026-11-29T12:00:00Z");
const MIN = 60_000;
const limits: AuditLimits = { maxAgeMs: 360 * MIN, graceMs: 10 * MIN, now: NOW };
const lease = (runId: string, heartbeatAgoMs: number): Lease => ({
  runId,
  stack: `run-${runId}`,
  host: "agent-2",
  pid: 4242,
  startedAt: new Date(NOW - 60 * MIN).toISOString(),
  heartbeatAt: new Date(NOW - heartbeatAgoMs).toISOString(),
});
const deadLock = { pid: 1, host: "here", alive: false };
const liveLock = { pid: 2, host: "here", alive: true };
const farLock = { pid: 77, host: "far-host" }; // another host: whether it lives is not known here

describe("leaseAlive", () => {
  test("a lease is judged by the TTL its holder wrote, whatever the judge's own", () => {
    const l = { ...lease("a-000002", 7_000), host: "elsewhere" };
    expect(leaseAlive(l, NOW, "here")).toBe(true); // no TTL recorded: the default (90 s)
    expect(leaseAlive({ ...l, ttlMs: 6_000 }, NOW, "here")).toBe(false);
    expect(leaseAlive({ ...l, ttlMs: 8_000 }, NOW, "here")).toBe(true);
  });
});

describe("judgeStack", () => {
  test.each<[string, Parameters<typeof judgeStack>[0], boolean, RegExp | null]>([
    ["young, unlocked", { ageMs: 5 * MIN }, false, null],
    ["old, unlocked", { ageMs: 400 * MIN }, true, /last updated 400 min ago/],
    ["old, locked by a live process", { ageMs: 400 * MIN, lock: liveLock }, false, /live process/],
    ["locked by a dead process", { ageMs: 30 * MIN, lock: deadLock }, true, /which is gone/],
    [
      "locked by a dead process, but younger than the grace",
      { ageMs: 2 * MIN, lock: deadLock },
      false,
      /grace/,
    ],
    [
      "old, dead lock, but a fresh lease (another agent)",
      { ageMs: 400 * MIN, lock: deadLock, lease: lease("a-000001", 5_000) },
      false,
      /live run on agent-2/,
    ],
    [
      "old, lease gone stale",
      { ageMs: 400 * MIN, lease: lease("a-000001", LEASE_TTL_MS + 1) },
      true,
      /agent \(agent-2:4242\) is gone/,
    ],
    [
      "no lock (killed during its tests), its lease's agent gone: stale before max-age",
      { ageMs: 30 * MIN, lease: lease("a-000001", LEASE_TTL_MS + 1) },
      true,
      /agent \(agent-2:4242\) is gone/,
    ],
    [
      "locked on another host (liveness unknown), its run's lease fresh: not stale",
      { ageMs: 400 * MIN, lock: farLock, lease: lease("a-000001", 5_000) },
      false,
      /live run on agent-2/,
    ],
    [
      "locked on another host, its run's lease lapsed: the agent and its lock are gone",
      { ageMs: 30 * MIN, lock: farLock, lease: lease("a-000001", LEASE_TTL_MS + 1) },
      true,
      /agent \(agent-2:4242\) is gone \(its lock by far-host:77 with it\)/,
    ],
    [
      "locked on another host, no lease, recent: left alone",
      { ageMs: 30 * MIN, lock: farLock },
      false,
      /locked by far-host:77 on another host/,
    ],
    [
      "locked on another host, no lease, older than max-age: stale",
      { ageMs: 400 * MIN, lock: farLock },
      true,
      /400 min ago, locked by far-host:77 on another host with no lease/,
    ],
    [
      "its lease's agent gone, but younger than the grace",
      { ageMs: 2 * MIN, lease: lease("a-000001", LEASE_TTL_MS + 1) },
      false,
      /grace/,
    ],
    [
      "a lease of this host whose process is dead is dead at once",
      {
        ageMs: 30 * MIN,
        lease: { ...lease("a-000001", 1_000), host: hostname(), pid: 2 ** 22 + 7 },
      },
      true,
      /is gone/,
    ],
    ["age unknown", {}, false, null],
  ])("%s", (_, facts, stale, reason) => {
    const v = judgeStack(facts, limits);
    expect(v.stale).toBe(stale);
    if (reason) expect(v.reason).toMatch(reason);
  });
});

describe("isResidue", () => {
  const live = new Set(["web-aaaaaa"]);
  test.each<[string, { runId: string; ageMs?: number; owner?: string }, boolean]>([
    ["an old object of a run without stack", { runId: "web-bbbbbb", ageMs: 60 * MIN }, true],
    ["an object of a live run", { runId: "web-aaaaaa", ageMs: 60 * MIN }, false],
    ["a young object (a run may be starting)", { runId: "web-bbbbbb", ageMs: 2 * MIN }, false],
    ["an object without a run label (the warm layer)", { runId: "", ageMs: 60 * MIN }, false],
    ["an object of unknown age", { runId: "web-bbbbbb" }, true],
    [
      "an old object of this backend's run",
      { runId: "web-bbbbbb", ageMs: 60 * MIN, owner: "0123456789ab" },
      true,
    ],
    [
      "an old object of another backend's run (another CI home on this swarm)",
      { runId: "web-bbbbbb", ageMs: 60 * MIN, owner: "ffffffffffff" },
      false,
    ],
  ])("%s", (_, o, want) => {
    expect(isResidue(o, live, { ...limits, owner: "0123456789ab" })).toBe(want);
  });
});

describe("liveRunIds", () => {
  test("stacks not reaped and fresh leases are live; reaped stacks and dead leases are not", () => {
    const live = liveRunIds(
      [
        { runId: "a-000001", stale: false },
        { runId: "a-000002", stale: true },
        { runId: "a-000003", stale: true, reaped: true },
      ],
      [lease("a-000004", 1000), lease("a-000005", LEASE_TTL_MS * 2)],
      NOW,
    );
    expect([...live].sort()).toEqual(["a-000001", "a-000002", "a-000004"]);
  });
});

describe("leaseAlive", () => {
  test("a fresh heartbeat from another host is alive; a stale one is not", () => {
    expect(leaseAlive(lease("a-000001", 1000), NOW)).toBe(true);
    expect(leaseAlive(lease("a-000001", LEASE_TTL_MS + 1), NOW)).toBe(false);
  });

  test("on this host, a lease whose process is gone is dead at once, heartbeat or not", () => {
    const here = hostname();
    expect(leaseAlive({ ...lease("a-000001", 1000), host: here, pid: process.pid }, NOW)).toBe(true);
    // Above the kernel's pid limit: no process can have it.
    expect(leaseAlive({ ...lease("a-000001", 1000), host: here, pid: 2 ** 23 }, NOW)).toBe(false);
  });
});

describe("images pruned when the disk is over its budget", () => {
  const image = (id: string, created: number, size: number, tags: string[], digests: string[]) => ({
    Id: id,
    Created: created,
    Size: size,
    RepoTags: tags,
    RepoDigests: digests,
  });
  const images = [
    image("built", 1, 500, ["cc-ci/traefik:3.6.12"], []),
    image("old", 2, 100, ["nginx:1.25"], ["nginx@sha256:aaa"]),
    image("used", 3, 100, ["redis:7"], ["redis@sha256:bbb"]),
    image("warm", 4, 100, ["traefik:v3.6"], ["traefik@sha256:ccc"]),
    image("mid", 5, 100, ["postgres:16"], ["postgres@sha256:ddd"]),
    image("new", 6, 100, ["alpine:3"], ["alpine@sha256:eee"]),
  ];
  const inUse = { imageIds: new Set(["used"]), references: new Set(["traefik:v3.6", "sha256:ccc"]) };

  test("pulled, unused, unnamed by any service, oldest first, only as many as the budget needs", () => {
    expect(imagesToPrune(images, inUse, 150).map((i) => i.Id)).toEqual(["old", "mid"]);
    expect(imagesToPrune(images, inUse, 10_000).map((i) => i.Id)).toEqual(["old", "mid", "new"]);
    expect(imagesToPrune(images, inUse, 0)).toEqual([]);
  });
});
