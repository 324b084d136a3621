import { isGone, untilGone, type DockerKind, type DockerObject } from "../../automation/adapters/docker";

const err = (statusCode: number, message: string) => Object.assign(new Error(message), { statusCode });

describe("isGone: a removal that failed because the object is already gone", () => {
  test("a 404 is gone", () => {
    expect(isGone(err(404, "(HTTP code 404) no such service"))).toBe(true);
  });
  test("a swarm network already being removed answers 500 'not found': gone", () => {
    expect(
      isGone(err(500, "(HTTP code 500) server error - network s0wgogbd94ok98e0wxxplw3ja not found")),
    ).toBe(true);
  });
  test("other failures are not", () => {
    expect(isGone(err(500, "(HTTP code 500) server error - network is in use by service x"))).toBe(false);
    expect(isGone(err(409, "(HTTP code 409) volume is in use"))).toBe(false);
    expect(isGone(new Error("connect ENOENT /var/run/docker.sock"))).toBe(false);
  });
});

describe("untilGone: polls only the kinds still there, and looks at every kind first and last", () => {
  const obj = (kind: DockerKind, name: string): DockerObject => ({ kind, id: name, name, runId: "r" });
  test("a network swarm is still removing: later polls list networks only; a last full look", async () => {
    const asked: string[] = [];
    let polls = 0;
    const left = await untilGone(async (kinds) => {
      asked.push(kinds ? [...kinds].sort().join(",") : "all");
      polls++;
      return polls <= 3 ? [obj("network", "run_x_internal")] : [];
    }, 5_000);
    expect(left).toEqual([]);
    expect(asked).toEqual(["all", "network", "network", "network", "all"]);
  });
  test("what the last full look finds is waited for too, and returned when the time is up", async () => {
    const asked: string[] = [];
    let full = 0;
    const left = await untilGone(async (kinds) => {
      asked.push(kinds ? [...kinds].sort().join(",") : "all");
      if (!kinds) full++;
      // The first full look finds a network; the network goes; the next full look finds a volume that stays.
      if (!kinds) return full === 1 ? [obj("network", "n")] : [obj("volume", "v")];
      return kinds.has("volume") ? [obj("volume", "v")] : [];
    }, 700);
    expect(left).toEqual([obj("volume", "v")]);
    expect(asked.slice(0, 4)).toEqual(["all", "network", "all", "volume"]);
  });
});
