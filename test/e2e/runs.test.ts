/**
 * The run lifecycle against the real swarm, Keycloak, Traefik and Pulumi engine: the warm layer from
 * nothing, each example recipe passing its check with zero residue, parallel runs, failures and
 * interruptions that still tear down, broken recipes that create nothing, and the cold fallback.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { dockerClient, labelledObjects, runObjects } from "../../automation/adapters/docker";
import { KeycloakAdmin } from "../../automation/adapters/keycloak";
import { isTraefikNotFound, viaProxy, waitFor } from "../../automation/adapters/http";
import { audit } from "../../automation/commands/audit";
import { pooledRealms } from "../../automation/adapters/realmPool";
import { warmPreview, warmStatus } from "../../automation/commands/warm";
import { listStacks } from "../../automation/adapters/pulumi";
import { runNames, warmPrefix } from "../../lib/naming";
import { describeE2E } from "./prereq";
import {
  E2E_HOME,
  ROOT,
  WARM,
  WARM_SETTINGS,
  e2eEnv,
  destroyWarm,
  ensureWarm,
  example,
  explain,
  logTo,
  readSettings,
  run,
  spawnRun,
} from "./harness";
import { tempRecipe } from "../helpers/recipes";

const env = e2eEnv();
const docker = dockerClient();

/** Nothing of the run: no object with its label or its name prefix, no stack. */
async function expectNoResidue(runId: string): Promise<void> {
  const prefix = `run_${runId.replace(/-/g, "_")}_`;
  expect((await runObjects(docker, runId, prefix)).map((o) => `${o.kind} ${o.name}`)).toEqual([]);
  expect((await listStacks(env)).map((s) => s.name).filter((n) => n.includes(runId))).toEqual([]);
}

describeE2E("warm layer", () => {
  test("comes up from nothing, serves Keycloak through Traefik without its admin, and a second up changes nothing", async () => {
    // From nothing, for real: the layer (if any) destroyed and removed, and nothing of it left.
    // (The file backend lists project stacks by their bare name; a cloud backend as org/project/name.)
    const isWarm = (n: string) => n === WARM || n.endsWith(`/${WARM}`);
    // The suite's home is its own: runs an earlier, interrupted suite left (which would keep the
    // layer in use, and which `warm destroy` rightly refuses to destroy under) are reaped first.
    await audit(env, { reap: true, graceMs: 0, maxAgeMs: 1, drift: false, warmStack: WARM });
    if ((await listStacks(env)).some((s) => isWarm(s.name))) {
      // The stack's settings file (for `warm` it is the operator's Pulumi.warm.yaml) stays as it was,
      // without the salt. (A fresh checkout has none: the suite's backend outlives checkouts.)
      const before = readSettings(WARM);
      await destroyWarm(WARM, env, logTo("warm"));
      expect(readSettings(WARM)).toEqual({ salt: false, config: before.config });
    }
    expect((await listStacks(env)).map((s) => s.name).filter(isWarm)).toEqual([]);
    expect(await labelledObjects(docker, `com.docker.stack.namespace=${warmPrefix(WARM)}`)).toEqual([]);
    await ensureWarm(env);
    const status = await warmStatus(WARM, env);
    expect(status).toMatchObject({ exists: true, traefik: true, keycloak: true, problems: [] });
    const proxy = { httpPort: WARM_SETTINGS.traefik.httpPort, httpsPort: WARM_SETTINGS.traefik.httpsPort };
    const kc = `http://kc.${WARM_SETTINGS.domain}`;
    // Keycloak answers through Traefik by its host name (a realm it does not have: Keycloak's 404)…
    const realm = await viaProxy(`${kc}/realms/no-such-realm/.well-known/openid-configuration`, proxy);
    expect({ status: realm.status, traefik: isTraefikNotFound(realm) }).toEqual({
      status: 404,
      traefik: false,
    });
    // …but its admin console and the master realm are not routed at all (Traefik's own 404)…
    for (const p of ["/admin/", "/admin/master/console/", "/realms/master/.well-known/openid-configuration"])
      expect(isTraefikNotFound(await viaProxy(`${kc}${p}`, proxy))).toBe(true);
    // …they are reached on the admin port, bound to 127.0.0.1 only.
    const admin = await fetch(
      `http://127.0.0.1:${WARM_SETTINGS.keycloak.adminPort}/realms/master/.well-known/openid-configuration`,
    );
    expect(((await admin.json()) as { issuer: string }).issuer).toBe(`${kc}:18080/realms/master`);
    // An unknown host gets Traefik's 404.
    expect(isTraefikNotFound(await viaProxy(`http://nobody.${WARM_SETTINGS.domain}/`, proxy))).toBe(true);
    expect(await warmPreview(WARM, env, true, logTo("warm"))).toEqual({ drift: false });
  });

  test("a change made behind Pulumi's back is drift, named by preview --expect-no-changes, and up repairs it", async () => {
    // A label on the Docker API proxy's service (service labels change no task: nothing restarts).
    const service = docker.getService(`${warmPrefix(WARM)}_docker_api`);
    const spec = (await service.inspect()) as {
      Version: { Index: number };
      Spec: { Labels?: Record<string, string> };
    };
    await service.update({
      ...spec.Spec,
      version: spec.Version.Index,
      Labels: { ...spec.Spec.Labels, "changed-by-hand": "yes" },
    });
    const drift = await warmPreview(WARM, env, true, logTo("warm"));
    expect(drift).toMatchObject({
      drift: true,
      summary: expect.stringMatching(/docker_api|docker:index:Service/),
    });
    await ensureWarm(env);
    expect(await warmPreview(WARM, env, true, logTo("warm"))).toEqual({ drift: false });
    const after = (await service.inspect()) as { Spec: { Labels?: Record<string, string> } };
    expect(after.Spec.Labels?.["changed-by-hand"]).toBeUndefined();
  });
});

describeE2E("runs on the warm layer", () => {
  beforeAll(async () => {
    await ensureWarm(env);
  });

  test.each(["web", "sso", "multi"])("example %s passes its check and leaves nothing", async (name) => {
    // The commit under test: the run tests the recipe exactly as that commit has it (git archive).
    const ref = execFileSync("git", ["rev-parse", "HEAD"], { cwd: ROOT }).toString().trim();
    const r = await run({ recipeDir: example(name), pr: 7, ref });
    expect({
      outcome: r.outcome,
      exitCode: r.exitCode,
      report: r.outcome === "passed" ? "" : explain(r),
    }).toEqual({ outcome: "passed", exitCode: 0, report: "" });
    expect(r.mode).toBe("warm");
    expect(r.phases.map((p) => `${p.name}:${p.outcome}`)).toEqual(
      expect.arrayContaining([
        "up:ok",
        "reachable:ok",
        "test:ok",
        "destroy:ok",
        "stack-remove:ok",
        "verify:ok",
      ]),
    );
    expect(r.residue).toEqual({ docker: [], stack: false });
    await expectNoResidue(r.runId);
    // The report stays where the README says, after the run's copy of the recipe is gone.
    const saved = path.join(E2E_HOME, "runs", r.runId, "report.json");
    expect(JSON.parse(readFileSync(saved, "utf8"))).toMatchObject({ runId: r.runId, outcome: "passed" });
    expect(existsSync(path.join(E2E_HOME, "runs", r.runId, "recipe"))).toBe(false);
  });

  test("the SSO check fails when the app itself is configured with another client", async () => {
    // The operator's values win over the recipe's .cc-ci/env: the app gets a client the realm does
    // not know, while the check keeps the run's real values.
    const defaults = path.join(
      tempRecipe({ "d.yml": "env:\n  OIDC_CLIENT_ID: not-this-runs-client\n" }),
      "d.yml",
    );
    const lines: string[] = [];
    const r = await run({ recipeDir: example("sso"), defaultsFile: defaults, log: (l) => lines.push(l) });
    expect({ outcome: r.outcome, exitCode: r.exitCode }).toEqual({ outcome: "failed", exitCode: 1 });
    expect(lines.join("\n")).toMatch(/sso \(browser\): /);
    expect(r.residue.docker).toEqual([]);
    await expectNoResidue(r.runId);
  });

  // Real recipes' shapes (see test/unit/fixtures.test.ts): abra.sh, {{ }} templates, overlays,
  // versioned configs and secrets, EXTRA_DOMAINS aliases, healthchecks, a backchannel OIDC app.
  test.each(["real-five", "real-pg-overlays", "real-sso-backchannel", "real-versions-aliases"])(
    "the real-recipe fixture %s deploys as abra would and passes its own check",
    async (name) => {
      const r = await run({
        recipeDir: path.join(ROOT, "test", "fixtures", "recipes", name),
        defaultsFile: path.join(ROOT, "test", "fixtures", "run-defaults.yml"),
      });
      expect({
        outcome: r.outcome,
        exitCode: r.exitCode,
        report: r.outcome === "passed" ? "" : explain(r),
      }).toEqual({ outcome: "passed", exitCode: 0, report: "" });
      expect(r.phases.find((p) => p.name === "test")?.outcome).toBe("ok");
      await expectNoResidue(r.runId);
    },
  );

  test("4 runs in parallel get distinct realms, domains and stacks, and all leave nothing", async () => {
    const reports = await Promise.all([0, 1, 2, 3].map(() => run({ recipeDir: example("sso") })));
    // Each failed run's report (error, phases) in the failure, not only its outcome.
    expect(reports.map((r) => (r.outcome === "passed" ? "passed" : explain(r)))).toEqual(
      reports.map(() => "passed"),
    );
    expect(new Set(reports.map((r) => r.runId)).size).toBe(4);
    expect(new Set(reports.map((r) => r.domain)).size).toBe(4);
    expect(new Set(reports.map((r) => r.stack)).size).toBe(4);
    for (const r of reports) await expectNoResidue(r.runId);
    const outputs = await warmStatus(WARM, env);
    expect(outputs.keycloak).toBe(true);
  });

  test("a failing test command reports failure, with its status, and still tears down", async () => {
    const r = await run({ recipeDir: example("web"), testCommand: ["bash", "-c", "exit 7"] });
    expect({ outcome: r.outcome, exitCode: r.exitCode }).toEqual({ outcome: "failed", exitCode: 7 });
    expect(r.phases.find((p) => p.name === "destroy")?.outcome).toBe("ok");
    await expectNoResidue(r.runId);
  });

  test("SIGTERM during up tears the run down", async () => {
    const report = path.join(E2E_HOME, "sigterm-report.json");
    const agent = spawnRun(example("multi"), ["--report", report]);
    // Once `up` is creating resources, stop the run as a CI agent would.
    await agent.waitFor(/docker:index:(Service|Network|Volume|Secret) \S+ creating/);
    agent.child.kill("SIGTERM");
    const code = await agent.closed;
    expect(existsSync(report)).toBe(true);
    const r = JSON.parse(readFileSync(report, "utf8"));
    expect({ code, outcome: r.outcome }).toEqual({ code: 130, outcome: "interrupted" });
    expect(r.phases.find((p: { name: string }) => p.name === "destroy")?.outcome).toBe("ok");
    await expectNoResidue(r.runId);
  });

  test("SIGINT to the agent's whole process group during the tests, then a second one: exit 130, torn down", async () => {
    const report = path.join(E2E_HOME, "sigint-report.json");
    const agent = spawnRun(example("web"), [
      "--sso",
      "off",
      "--report",
      report,
      "--",
      "bash",
      "-c",
      "echo testing; sleep 300",
    ]);
    await agent.waitFor(/test\| testing/);
    // A CI agent stops a job by signalling its process group: cc-ci and everything it started.
    process.kill(-(agent.child.pid as number), "SIGINT");
    await agent.waitFor(/SIGINT: stopping and tearing down/);
    await agent.waitFor(/Destroying/);
    agent.child.kill("SIGINT");
    const code = await agent.closed;
    expect(agent.output()).toMatch(/SIGINT again: teardown continues/);
    const r = JSON.parse(readFileSync(report, "utf8"));
    expect({ code, outcome: r.outcome, testExit: r.testExitCode }).toEqual({
      code: 130,
      outcome: "interrupted",
      testExit: 137,
    });
    expect(r.phases.find((p: { name: string }) => p.name === "destroy")?.outcome).toBe("ok");
    await expectNoResidue(r.runId);
  });

  test("an object of the run left behind is found by verify: exit 81, named in the report", async () => {
    const names = runNames("web", "bad001");
    const running = run({
      recipeDir: example("web"),
      sso: "off",
      hex: names.hex,
      testCommand: ["bash", "-c", "sleep 20"],
    });
    // While the run tests, something outside its stack leaves an object with the run's label.
    const deadline = Date.now() + 240_000;
    while ((await runObjects(docker, names.runId)).length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 1000));
    const planted = `${names.stackName}_planted`;
    await docker.createVolume({ Name: planted, Labels: { "cc-ci.run": names.runId } });
    try {
      const r = await running;
      expect({ outcome: r.outcome, exitCode: r.exitCode }).toEqual({
        outcome: "teardown-failed",
        exitCode: 81,
      });
      expect(r.residue.docker).toEqual([{ kind: "volume", name: planted }]);
      expect(r.error).toMatch(new RegExp(`the run left residue: volume ${planted}`));
    } finally {
      await docker
        .getVolume(planted)
        .remove()
        .catch(() => undefined);
    }
  });

  test("a broken recipe fails before any resource exists, naming the problem", async () => {
    const before = (await listStacks(env)).length;
    const r = await run({
      recipeDir: path.join(ROOT, "test", "fixtures", "recipes", "broken-policy"),
      recipe: "broken",
    });
    expect({ outcome: r.outcome, exitCode: r.exitCode }).toEqual({ outcome: "invalid", exitCode: 2 });
    expect(r.error).toMatch(/services\.app\.privileged: a privileged service is refused/);
    expect(r.phases.map((p) => p.name)).not.toContain("up");
    expect((await listStacks(env)).length).toBe(before);
    await expectNoResidue(r.runId);
  });

  test("a recipe whose service never becomes healthy fails setup and still tears down", async () => {
    const dir = tempRecipe({
      "compose.yml":
        'services:\n  app:\n    image: cc-ci/whoami:1\n    healthcheck:\n      test: ["CMD", "false"]\n      interval: 1s\n      retries: 1\n',
    });
    const r = await run({ recipeDir: dir, recipe: "sick", deployTimeout: 45 }, e2eEnv());
    expect(r.outcome).toBe("setup-failed");
    expect(r.exitCode).toBe(80);
    await expectNoResidue(r.runId);
  });

  test("the realm of a run is created on the warm Keycloak, exists while the run tests, and is gone after", async () => {
    const kc = await masterAdmin();
    const hex = "feed01";
    const realm = runNames("sso", hex).realm;
    let seen: { realm: string; attributes?: Record<string, string> } | undefined;
    const running = run({ recipeDir: example("sso"), hex, testCommand: ["bash", "-c", "sleep 15"] });
    // While the run is testing, its realm is on the warm Keycloak, with its run id.
    for (let i = 0; i < 240 && !seen; i++) {
      seen = await kc.realm(realm).catch(() => undefined);
      if (!seen) await new Promise((r) => setTimeout(r, 1000));
    }
    const r = await running;
    expect({ outcome: r.outcome, mode: r.mode }).toEqual({ outcome: "passed", mode: "warm" });
    expect(seen?.attributes?.["cc-ci.run"]).toBe(r.runId);
    expect(await kc.realm(realm)).toBeUndefined();
  });

  test("a run's realm is a pooled one renamed, and the run tops the pool back up to its size", async () => {
    const kc = await masterAdmin();
    const size = WARM_SETTINGS.keycloak.realmPool;
    // Whatever earlier tests took, the pool refills to its size (polled: top-ups end with their runs).
    const pool = async () => (await pooledRealms(kc, WARM)).sort();
    await waitFor("the realm pool at its size", 60_000, async () => (await pool()).length >= size, 500);
    const before = await pool();
    expect(before).toHaveLength(size);
    const r = await run({ recipeDir: example("web") });
    expect({ outcome: r.outcome, realmFrom: r.realmFrom }).toEqual({ outcome: "passed", realmFrom: "pool" });
    const after = await pool();
    // One pooled realm became the run's (and went with it); a new one took its place.
    expect(after).toHaveLength(size);
    expect(after.filter((n) => !before.includes(n))).toHaveLength(1);
    // Pooled realms are the warm layer's, not residue.
    const report = await audit(env, { drift: false, warmStack: WARM });
    expect(report.warm.realmPool).toBe(size);
    expect(report.residue.realms).toEqual([]);
  });
});

describeE2E("cold fallback", () => {
  test("without a warm stack, a run brings its own Traefik and a cold Keycloak, and passes", async () => {
    const r = await run({ recipeDir: example("sso"), warmStack: "no-such-warm-stack" });
    expect({ outcome: r.outcome, report: r.outcome === "passed" ? "" : explain(r) }).toEqual({
      outcome: "passed",
      report: "",
    });
    expect(r.mode).toBe("cold");
    expect(r.warnings.join("\n")).toMatch(/no warm stack/);
    await expectNoResidue(r.runId);
  });

  test("with --sso off, no realm and no Keycloak", async () => {
    const r = await run({ recipeDir: example("web"), sso: "off" });
    expect(r.outcome).toBe("passed");
    expect(r.mode).toBe("off");
    expect(r.phases.find((p) => p.name === "sso-ready")?.outcome).toBe("skipped");
  });
});

/**
 * The master admin's password, which the warm stack does not export: read as an operator would in
 * an emergency, from the Docker secret inside the Keycloak container.
 */
/** The warm Keycloak's master admin, on its admin port. */
async function masterAdmin(): Promise<KeycloakAdmin> {
  return new KeycloakAdmin({
    url: `http://127.0.0.1:${WARM_SETTINGS.keycloak.adminPort}`,
    realm: "master",
    clientId: "admin-cli",
    username: "ccci-admin",
    password: await adminPassword(),
  });
}

async function adminPassword(): Promise<string> {
  const [c] = await docker.listContainers({
    filters: JSON.stringify({ label: [`com.docker.swarm.service.name=${warmPrefix(WARM)}_keycloak`] }),
  });
  const exec = await docker.getContainer(c.Id).exec({
    Cmd: ["cat", "/run/secrets/admin_password"],
    AttachStdout: true,
  });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  await new Promise((r) => {
    stream.on("data", (d: Buffer) => chunks.push(d));
    stream.on("end", r);
  });
  // The stream is multiplexed: 8-byte frame headers before each chunk of output.
  return Buffer.concat(chunks).subarray(8).toString().trim();
}
