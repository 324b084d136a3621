/** What the tests' sandbox may and may not do: its container's options, in one place. */
import { sandboxOptions, type SandboxSpec } from "../../automation/commands/run/sandbox";

const spec: SandboxSpec = {
  image: "cc-ci/sandbox:1",
  command: ["/recipe/.cc-ci/test"],
  env: { CI_RUN_ID: "web-abc123", CI_APP_URL: "http://web-abc123.ci.test" },
  recipeDir: "/var/lib/cc-ci/runs/web-abc123/recipe",
  network: "proxy_3",
  labels: { "cc-ci.run": "web-abc123" },
  name: "run_web_abc123_test",
  timeoutMs: 900_000,
  memoryBytes: 1024 ** 3,
  nanoCpus: 1e9,
  pids: 512,
  output: { lineBytes: 8192, headBytes: 1 << 20, tailBytes: 1 << 20 },
};

describe("the sandbox", () => {
  const o = sandboxOptions(spec);
  const h = o.HostConfig!;

  test("gets exactly the run's values, as a user without capabilities", () => {
    expect(o.Env).toEqual(["CI_RUN_ID=web-abc123", "CI_APP_URL=http://web-abc123.ci.test"]);
    expect(o.User).toBe("1000:1000");
    expect(h.CapDrop).toEqual(["ALL"]);
    expect(h.SecurityOpt).toEqual(["no-new-privileges"]);
    expect(h.Privileged).toBe(false);
    expect(h.ReadonlyRootfs).toBe(true);
  });

  test("sees the recipe copy read-only, and no other host path (no Docker socket)", () => {
    expect(h.Binds).toEqual(["/var/lib/cc-ci/runs/web-abc123/recipe:/recipe:ro"]);
    expect(o.WorkingDir).toBe("/recipe");
    expect(JSON.stringify(o)).not.toMatch(/docker\.sock/);
  });

  test("is bounded in memory (no swap), CPU and processes, and joins only the run's network", () => {
    expect(h).toMatchObject({
      Memory: 1024 ** 3,
      MemorySwap: 1024 ** 3,
      NanoCpus: 1e9,
      PidsLimit: 512,
      NetworkMode: "proxy_3",
    });
    expect(h.Init).toBe(true); // signals reach every process; zombies are reaped
  });

  test("carries the run's label, so a leftover sandbox is residue the checks find", () => {
    expect(o.Labels).toEqual({ "cc-ci.run": "web-abc123" });
  });
});
