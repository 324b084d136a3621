/**
 * Cleanup audits against the real backend, swarm and Keycloak: each fault leaves residue the audit
 * finds and --reap removes to zero; a clean host audits clean; the warm layer and anything without a
 * run label are never touched.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { audit, type AuditReport } from "../../automation/commands/audit";
import { listProcesses } from "../../automation/commands/audit/processes";
import { dockerClient, runObjects } from "../../automation/adapters/docker";
import { listStacks } from "../../automation/adapters/pulumi";
import { waitFor } from "../../automation/adapters/http";
import { KeycloakAdmin } from "../../automation/adapters/keycloak";
import { warmStatus } from "../../automation/commands/warm";
import { LABELS, ownerId, runNames } from "../../lib/naming";
import { describeE2E } from "./prereq";
import { E2E_HOME, ROOT, WARM, e2eEnv, ensureWarm, example, logTo, run, spawnRun } from "./harness";

const env = e2eEnv();
const exec = promisify(execFile);
const docker = dockerClient();
// No grace period: the planted residue is seconds old. Live runs are still protected by their leases.
const auditOpts = { warmStack: WARM, drift: false, graceMs: 0, log: logTo("audit") };

async function provisioning(): Promise<KeycloakAdmin> {
  const { LocalWorkspace, Stack } = await import("@pulumi/pulumi/automation");
  const { privatePulumiHome, workspaceOptions } = await import("../../automation/adapters/env");
  const ws = await LocalWorkspace.create(await workspaceOptions(env, privatePulumiHome(env, "e2e-audit")));
  const kc = (await (await Stack.select(WARM, ws)).outputs()).keycloak.value as {
    adminUrl: string;
    provisioning: { realm: string; clientId: string; clientSecret: string };
  };
  return new KeycloakAdmin({
    url: kc.adminUrl,
    realm: kc.provisioning.realm,
    clientId: kc.provisioning.clientId,
    clientSecret: kc.provisioning.clientSecret,
  });
}

describeE2E("cleanup audit", () => {
  beforeAll(async () => {
    await ensureWarm(env);
    // Start from a clean host, whatever earlier suites left.
    await audit(env, { ...auditOpts, reap: true, maxAgeMs: 24 * 3600_000 });
  });

  test("a run killed with SIGKILL during up: its stack (locked by a dead process) and objects are reaped", async () => {
    const agent = spawnRun(example("multi"));
    await agent.waitFor(/docker:index:(Volume|Secret|Network) \S+ created/);
    // The agent and everything it started die at once: no teardown, a lock held by a dead process.
    process.kill(-(agent.child.pid as number), "SIGKILL");
    await agent.closed;
    const err = agent.output();
    const runId = /\[([a-z0-9]+-[0-9a-f]{6})\]/.exec(err)?.[1] as string;
    expect(runId).toBeDefined();
    // The engine (a child of the killed CLI) may linger a moment: poll until the audit sees the lock
    // holder gone.
    let before = await audit(env, auditOpts);
    for (let i = 0; i < 30 && !before.stacks.find((s) => s.runId === runId)?.stale; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      before = await audit(env, auditOpts);
    }
    const stack = before.stacks.find((s) => s.runId === runId);
    expect(stack?.stale).toBe(true);
    expect(before.clean).toBe(false);
    // The killed CLI's plugins live on, orphaned: the provider plugins (by the run's home) at least.
    const orphans = before.residue.processes.filter((p) => p.runId === runId);
    expect(orphans.filter((p) => p.command.includes(`/homes/run-${runId}/plugins/`)).length).toBeGreaterThan(
      0,
    );

    const after = await audit(env, { ...auditOpts, reap: true });
    expect(after.stacks.find((s) => s.runId === runId)?.reaped).toBe(true);
    expect(await runObjects(docker, runId)).toEqual([]);
    expect((await listStacks(env)).some((s) => s.name.endsWith(`run-${runId}`))).toBe(false);
    // …and are ended: no process of this host is left with the run's home or its plugins' address.
    const pids = new Set(orphans.map((p) => p.pid));
    expect(
      listProcesses().filter((p) => pids.has(p.pid) || p.args.join(" ").includes(`/homes/run-${runId}/`)),
    ).toEqual([]);
  });

  test("a realm created outside any state (a timed-out provider call) is found and removed", async () => {
    const kc = await provisioning();
    const names = runNames("orphan");
    // What the provider would have sent: the run's realm name and attribute, but no state records it.
    await kc.createRealm({
      realm: names.realm,
      displayName: `cc-ci run ${names.runId}`,
      attributes: { "cc-ci.run": names.runId },
    });
    const found = await audit(env, auditOpts);
    expect(found.residue.realms.map((r) => r.realm)).toContain(names.realm);
    expect(found.clean).toBe(false);
    const reaped = await audit(env, { ...auditOpts, reap: true });
    expect(reaped.residue.realms.find((r) => r.realm === names.realm)?.removed).toBe(true);
    expect(await kc.realm(names.realm)).toBeUndefined();
  });

  test("a stack kept after a failure is stale past --max-age and reaped", async () => {
    const r = await run({ recipeDir: example("web"), testCommand: ["false"], keepOnFailure: true });
    expect(r.outcome).toBe("failed");
    expect((await runObjects(docker, r.runId)).length).toBeGreaterThan(0);
    const young = await audit(env, { ...auditOpts, maxAgeMs: 3600_000 });
    expect(young.stacks.find((s) => s.runId === r.runId)?.stale).toBe(false);
    const reaped = await audit(env, { ...auditOpts, reap: true, maxAgeMs: 1 });
    expect(reaped.stacks.find((s) => s.runId === r.runId)?.reaped).toBe(true);
    expect(await runObjects(docker, r.runId)).toEqual([]);
  });

  test("a stale stack whose provider can no longer act is removed by force, and what it held is reaped as residue", async () => {
    const r = await run({
      recipeDir: example("web"),
      sso: "off",
      testCommand: ["false"],
      keepOnFailure: true,
    });
    expect(r.outcome).toBe("failed");
    expect((await runObjects(docker, r.runId)).length).toBeGreaterThan(0);
    // The state's Docker provider now points at an engine that is not there (as a stack made on a
    // host or warm layer since rebuilt would): refresh and destroy both fail.
    const { LocalWorkspace, Stack } = await import("@pulumi/pulumi/automation");
    const { privatePulumiHome, workspaceOptions } = await import("../../automation/adapters/env");
    const ws = await LocalWorkspace.create(await workspaceOptions(env, privatePulumiHome(env, "e2e-audit")));
    const stack = await Stack.select(r.stack, ws);
    const state = await stack.exportStack();
    const resources = (
      state.deployment as {
        resources: { type: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }[];
      }
    ).resources;
    const providers = resources.filter((x) => x.type === "pulumi:providers:docker");
    expect(providers.length).toBeGreaterThan(0);
    for (const p of providers) {
      p.inputs = { ...p.inputs, host: "tcp://127.0.0.1:1" };
      p.outputs = { ...p.outputs, host: "tcp://127.0.0.1:1" };
    }
    await stack.importStack(state);
    const reaped = await audit(env, { ...auditOpts, reap: true, maxAgeMs: 1 });
    const s = reaped.stacks.find((x) => x.runId === r.runId);
    expect({ reaped: s?.reaped, forced: s?.forced }).toEqual({
      reaped: true,
      forced: expect.stringMatching(/127\.0\.0\.1:1/),
    });
    expect((await listStacks(env)).map((x) => x.name).filter((n) => n.includes(r.runId))).toEqual([]);
    // Its service was removed as residue; its task's container goes a moment later.
    expect(reaped.residue.docker.some((o) => o.runId === r.runId && o.kind === "service" && o.removed)).toBe(
      true,
    );
    await waitFor(
      "the run's objects gone",
      60_000,
      async () => (await runObjects(docker, r.runId)).length === 0,
      500,
    );
  });

  test("a volume and a secret of a run whose stack was removed by hand are removed; unlabelled ones and another backend's are not", async () => {
    const names = runNames("gone");
    const labels = { [LABELS.run]: names.runId, [LABELS.recipe]: "gone" };
    await docker.createVolume({ Name: `${names.stackName}_data`, Labels: labels });
    await docker.createSecret({
      Name: `${names.stackName}_pw_v1`,
      Labels: labels,
      Data: Buffer.from("x").toString("base64"),
    });
    const bystander = `ccci_e2e_bystander_${names.hex}`;
    await docker.createVolume({ Name: bystander, Labels: { purpose: "not a run" } });
    // A run of another CI home (another state backend) on this swarm: not this audit's to judge.
    const foreign = runNames("othr");
    const foreignVolume = `${foreign.stackName}_data`;
    await docker.createVolume({
      Name: foreignVolume,
      Labels: { [LABELS.run]: foreign.runId, [LABELS.owner]: ownerId("file:///srv/another-ci/state") },
    });
    try {
      const found = await audit(env, auditOpts);
      expect(
        found.residue.docker
          .filter((o) => o.runId === names.runId)
          .map((o) => o.kind)
          .sort(),
      ).toEqual(["secret", "volume"]);
      await audit(env, { ...auditOpts, reap: true });
      expect(await runObjects(docker, names.runId)).toEqual([]);
      expect((await docker.getVolume(bystander).inspect()).Name).toBe(bystander);
      expect(found.residue.docker.some((o) => o.runId === foreign.runId)).toBe(false);
      expect((await docker.getVolume(foreignVolume).inspect()).Name).toBe(foreignVolume);
    } finally {
      for (const v of [bystander, foreignVolume])
        await docker
          .getVolume(v)
          .remove()
          .catch(() => undefined);
    }
  });

  test("a clean host audits clean, and reaping never touches the warm layer", async () => {
    const r = await audit(env, { ...auditOpts, reap: true, drift: true });
    expect({
      clean: r.clean,
      errors: r.errors,
      stale: r.stacks.filter((s) => s.stale),
      residue: r.residue,
      drift: r.warm.drift,
      deps: r.warm.deps,
    }).toEqual({
      clean: true,
      errors: [],
      stale: [],
      residue: { docker: [], realms: [], units: [], processes: [] },
      drift: false,
      deps: { postgres: true, s3: true },
    });
    expect(await warmStatus(WARM, env)).toMatchObject({ exists: true, traefik: true, keycloak: true });
  });

  test("`cc-ci audit --json` prints the report; a Docker data root over --disk-budget makes it unclean, exit 1", async () => {
    const cli = (extra: string[]) =>
      exec(
        path.join(ROOT, "bin", "cc-ci"),
        ["audit", "--json", "--no-drift", "--warm-stack", WARM, ...extra],
        { env: { ...process.env, CC_CI_HOME: E2E_HOME }, maxBuffer: 16 * 1024 ** 2 },
      ).then(
        (r) => ({ code: 0, report: JSON.parse(r.stdout) as AuditReport }),
        (e: { code: number; stdout: string }) => ({
          code: e.code,
          report: JSON.parse(e.stdout) as AuditReport,
        }),
      );
    const within = await cli(["--disk-budget", "10t"]);
    expect({ code: within.code, clean: within.report.clean, over: within.report.disk.over }).toEqual({
      code: 0,
      clean: true,
      over: false,
    });
    expect(within.report.disk.usedBytes).toBeGreaterThan(0);
    const over = await cli(["--disk-budget", "1m"]);
    expect({ code: over.code, clean: over.report.clean, over: over.report.disk.over }).toEqual({
      code: 1,
      clean: false,
      over: true,
    });
    expect(over.report.disk.budgetBytes).toBeLessThan(over.report.disk.usedBytes as number);
  });
});
