/**
 * Values and boundaries a careless edit could change without any other test noticing (issue 21's
 * mutations, each of which passed the unit suite before): the exit codes as literal numbers, the
 * naming limits on long names, the test environment over https and with aliases, the defaults of a
 * run's settings, the warm Keycloak kept secret in a run's stack, the sandbox's scratch space, and
 * the audit's boundaries.
 */
import fc from "fast-check";
import type { OutputMap } from "@pulumi/pulumi/automation";
import { isResidue, judgeStack } from "../../automation/commands/audit/judge";
import { EXIT, runOutcome } from "../../automation/commands/run/outcome";
import { sandboxOptions } from "../../automation/commands/run/sandbox";
import { testEnv } from "../../automation/commands/run/tests";
import { encodeConfig, RunConfig, RunDefaults } from "../../lib/config";
import { fitName, prefixedName, REALM_MAX, runNames, SERVICE_NAME_MAX } from "../../lib/naming";
import { planRun } from "../../lib/runPlan";

describe("exit codes, as CI servers read them", () => {
  const base = { phases: [], invalid: false, setupFailed: false, signals: 0, residue: { docker: [] } };
  test("literal numbers: invalid 2, setup 80, teardown 81, interrupted 130", () => {
    expect(EXIT).toEqual({ invalid: 2, setup: 80, teardown: 81, interrupted: 130 });
    expect(runOutcome({ ...base, setupFailed: true })).toEqual({ outcome: "setup-failed", exitCode: 80 });
    expect(runOutcome({ ...base, invalid: true }).exitCode).toBe(2);
    expect(runOutcome({ ...base, signals: 1 }).exitCode).toBe(130);
  });

  test("a failed verify is 81 whatever else happened", () => {
    const verify = { name: "verify", start: "", durationMs: 1, outcome: "failed" as const };
    expect(runOutcome({ ...base, phases: [verify], testExitCode: 0 })).toEqual({
      outcome: "teardown-failed",
      exitCode: 81,
    });
    expect(runOutcome({ ...base, phases: [verify], setupFailed: true, signals: 1 }).exitCode).toBe(81);
  });
});

describe("names of long recipes keep within Keycloak's and Swarm's limits", () => {
  const longName = fc.stringMatching(/^[a-z][a-z0-9-]{39,120}$/);
  const hex = fc.stringMatching(/^[0-9a-f]{6}$/);

  test("a realm of a recipe named with 40 to 120 characters is at most 36, its hex whole", () => {
    fc.assert(
      fc.property(longName, hex, (recipe, h) => {
        const realm = runNames(recipe, h).realm;
        return realm.length <= 36 && realm.endsWith(`-${h}`);
      }),
    );
    // Keycloak's column, as a literal: a long name of letters fills it exactly.
    expect(REALM_MAX).toBe(36);
    expect(runNames("a".repeat(80), "abcdef").realm).toHaveLength(36);
  });

  test("a swarm name cut to fit keeps a hash of the whole name, so two long names never meet", () => {
    fc.assert(
      fc.property(longName, longName, (a, b) => {
        const [x, y] = [
          prefixedName("run_web_abc123", a, SERVICE_NAME_MAX),
          prefixedName("run_web_abc123", b, SERVICE_NAME_MAX),
        ];
        return x.length <= SERVICE_NAME_MAX && y.length <= SERVICE_NAME_MAX && (a === b) === (x === y);
      }),
    );
    // Two names alike for their first 60 characters: cut to fit, each keeps a hash of its whole name.
    const [one, two] = ["one", "two"].map((end) =>
      prefixedName("run_web_abc123", `${"s".repeat(60)}${end}`, 63),
    );
    expect(one).not.toBe(two);
    expect([one, two]).toEqual([
      expect.stringMatching(/-[0-9a-f]{6}$/),
      expect.stringMatching(/-[0-9a-f]{6}$/),
    ]);
    expect(SERVICE_NAME_MAX).toBe(63);
    const cut = fitName(`run_web_abc123_${"s".repeat(80)}`, SERVICE_NAME_MAX);
    expect(cut).toMatch(/-[0-9a-f]{6}$/);
    expect(cut).toHaveLength(SERVICE_NAME_MAX);
  });
});

describe("the tests' environment over https and with aliases", () => {
  const https = {
    domain: "ci.example.org",
    networks: ["proxy_0"],
    entrypoints: { web: "web", webSecure: "web-secure" },
    scheme: "https" as const,
    httpPort: 8080,
    httpsPort: 8443,
    defaultRuleSyntax: "v2" as const,
  };
  const plan = planRun(
    RunConfig.parse({
      role: "run",
      runId: "web-abc123",
      recipeDir: "/r/web",
      proxyNetwork: "proxy_0",
      sso: "off",
    }),
    { read: { ok: true, proxy: https, problems: [] }, keycloakHealthy: false },
  );
  const outputs = (o: Record<string, unknown>): OutputMap =>
    Object.fromEntries(Object.entries(o).map(([k, value]) => [k, { value, secret: false }]));

  test("CI_CURL_RESOLVE names the https port when the CI serves https", () => {
    expect(testEnv(outputs({}), plan, "10.0.0.1").CI_CURL_RESOLVE).toBe(
      "web-abc123.ci.example.org:8443:10.0.0.1",
    );
  });

  test("CI_HOSTS has every host of every router, once, wildcards left out", () => {
    const routers = [
      { hosts: ["web-abc123.ci.example.org", "www.web-abc123.ci.example.org"] },
      {
        hosts: ["web-abc123.ci.example.org", "*.web-abc123.ci.example.org", "api.web-abc123.ci.example.org"],
      },
    ];
    expect(testEnv(outputs({ routers }), plan).CI_HOSTS).toBe(
      "web-abc123.ci.example.org www.web-abc123.ci.example.org api.web-abc123.ci.example.org",
    );
  });
});

describe("the defaults of a run's settings", () => {
  test("sandbox, limits and timeouts", () => {
    const d = RunDefaults.parse({});
    expect(d.sandbox).toMatchObject({ timeout: 900, pids: 512, memory: "1g", cpus: 1 });
    expect(d.limits).toMatchObject({
      maxReplicas: 3,
      memory: "512m",
      maxMemory: "2g",
      cpus: 1,
      maxCpus: 2,
      maxServices: 20,
      maxTotalReplicas: 24,
      minHealthcheckInterval: "1s",
      disk: "4g",
    });
    expect([d.readyTimeout, d.deployTimeout]).toEqual([300, 600]);
  });

  test("the warm Keycloak's settings are a secret in the run's stack config", () => {
    const keycloak = { publicUrl: "http://kc", adminUrl: "http://a", provisioning: { clientSecret: "s" } };
    expect(encodeConfig({ warmKeycloak: keycloak, recipe: "web" })).toEqual({
      "cc-ci:warmKeycloak": { value: JSON.stringify(keycloak), secret: true },
      "cc-ci:recipe": { value: "web" },
    });
  });
});

describe("the sandbox's scratch space", () => {
  test("/tmp is in memory, 256 MiB, no setuid, no devices; the home 64 MiB", () => {
    const o = sandboxOptions({
      image: "i",
      command: ["t"],
      env: {},
      recipeDir: "/r",
      network: "n",
      labels: {},
      name: "x",
      timeoutMs: 1,
      memoryBytes: 1,
      nanoCpus: 1,
      pids: 1,
      output: { lineBytes: 1, headBytes: 1, tailBytes: 1 },
    });
    expect(o.HostConfig?.Tmpfs).toEqual({
      "/tmp": "rw,nosuid,nodev,size=256m",
      "/home/ci": "rw,nosuid,nodev,size=64m",
    });
  });
});

describe("the audit's boundaries", () => {
  const limits = { maxAgeMs: 60 * 60_000, graceMs: 120_000, now: Date.now() };

  test("an object exactly as old as the grace period is residue (>=, not >)", () => {
    expect(isResidue({ runId: "web-abc123", ageMs: 120_000 }, new Set(), limits)).toBe(true);
    expect(isResidue({ runId: "web-abc123", ageMs: 119_999 }, new Set(), limits)).toBe(false);
  });

  test("a stack of unknown age whose lock holder is dead is stale", () => {
    expect(judgeStack({ lock: { pid: 1, host: "here", alive: false } }, limits)).toMatchObject({
      stale: true,
    });
  });
});
