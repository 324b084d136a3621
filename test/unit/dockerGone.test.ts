import { isGone } from "../../automation/adapters/docker";

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
