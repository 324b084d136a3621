/**
 * Hostile runs beside a victim, on the real swarm, Traefik and Keycloak: a test command that tries
 * every way out of its run reaches nothing (each probe reported), the victim run passes with its
 * secrets never seen by the hostile one, a hung test is killed at its deadline with everything it
 * started, a recipe that would capture other runs' traffic is refused before anything exists, and
 * the warm layer answers afterwards.
 */
import * as path from "node:path";
import { dockerClient, hostAddressForContainers, runObjects } from "../../automation/adapters/docker";
import { listStacks } from "../../automation/adapters/pulumi";
import { warmStatus } from "../../automation/commands/warm";
import { runNames, warmPrefix } from "../../lib/naming";
import { describeE2E } from "./prereq";
import { ROOT, WARM, WARM_SETTINGS, e2eEnv, ensureWarm, example, explain, run } from "./harness";
import { tempRecipe } from "../helpers/recipes";

const env = e2eEnv();
const docker = dockerClient();
const fixture = (name: string) => path.join(ROOT, "test", "fixtures", "recipes", name);

async function containerAddress(runId: string, timeoutMs = 240_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const c of await docker.listContainers({
      filters: JSON.stringify({ label: [`cc-ci.run=${runId}`] }),
    })) {
      const ip = Object.values(c.NetworkSettings?.Networks ?? {}).find((n) => n.IPAddress)?.IPAddress;
      if (ip && !c.Names?.[0]?.includes("_test")) return ip;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`no container of ${runId} came up`);
}

describeE2E("hostile runs are contained", () => {
  beforeAll(async () => {
    await ensureWarm(env);
  });

  test("a test command that tries every way out reaches nothing, and the victim beside it passes", async () => {
    const victimHex = "a1c0de";
    const victimNames = runNames("sso", victimHex);
    // The victim keeps its app up for a while before its real check, so the probes meet it.
    const victim = run({
      recipeDir: example("sso"),
      hex: victimHex,
      testCommand: ["bash", "-c", "sleep 60; exec /recipe/.cc-ci/test"],
    });
    const victimIp = await containerAddress(victimNames.runId);
    const lines: string[] = [];
    const hostile = await run({
      recipeDir: fixture("hostile-probe"),
      testCommand: [
        "/recipe/.cc-ci/probe",
        await hostAddressForContainers(docker),
        String(WARM_SETTINGS.keycloak.adminPort),
        victimIp,
        `${victimNames.stackName}_app`,
        `http://kc.${WARM_SETTINGS.domain}:${WARM_SETTINGS.traefik.httpPort}`,
      ],
      log: (l) => lines.push(l),
    });
    const probes = lines.filter((l) => /(BLOCKED|ESCAPED):/.test(l)).map((l) => l.replace(/^.*test\| /, ""));
    expect(probes.filter((p) => p.startsWith("ESCAPED"))).toEqual([]);
    expect(probes).toHaveLength(14);
    expect({
      outcome: hostile.outcome,
      report: hostile.outcome === "passed" ? "" : explain(hostile),
    }).toEqual({
      outcome: "passed",
      report: "",
    });
    const v = await victim;
    expect({ outcome: v.outcome, report: v.outcome === "passed" ? "" : explain(v) }).toEqual({
      outcome: "passed",
      report: "",
    });
    // The victim's secrets were in its own sandbox only: nothing of them in the hostile run's output.
    expect(lines.join("\n")).not.toMatch(/CI_OIDC_CLIENT_SECRET=|CI_TEST_PASSWORD=/);
    expect(await warmStatus(WARM, env)).toMatchObject({ exists: true, traefik: true, keycloak: true });
  });

  test("a test that hangs, with a background child holding its output, is killed at its deadline and torn down", async () => {
    const started = Date.now();
    const r = await run({
      recipeDir: example("web"),
      sso: "off",
      testCommand: ["bash", "-c", "sleep 1000 & exec sleep 1000"],
      testTimeout: 10,
    });
    expect({ outcome: r.outcome, exitCode: r.exitCode }).toEqual({ outcome: "failed", exitCode: 124 });
    expect(r.phases.find((p) => p.name === "test")?.durationMs).toBeLessThan(30_000);
    expect(Date.now() - started).toBeLessThan(240_000);
    expect(await runObjects(docker, r.runId, `run_${r.runId.replace(/-/g, "_")}_`)).toEqual([]);
  });

  test("a recipe that would capture other runs' traffic is refused before anything exists", async () => {
    const dir = tempRecipe({
      "compose.yml":
        'version: "3.8"\nservices:\n  app:\n    image: cc-ci/whoami:1\n    networks: [proxy]\n    deploy:\n      labels:\n        - traefik.enable=true\n        - traefik.tcp.routers.all.rule=HostSNI(`*`)\n        - traefik.tcp.routers.all.entrypoints=web\n        - traefik.tcp.services.all.loadbalancer.server.port=80\n        - "traefik.http.routers.x.rule=Host(`${DOMAIN}`) || PathPrefix(`/`)"\n        - traefik.http.routers.x.priority=2147483000\nnetworks:\n  proxy:\n    external: true\n',
    });
    const before = (await listStacks(env)).length;
    const r = await run({ recipeDir: dir, recipe: "grab" });
    expect({ outcome: r.outcome, exitCode: r.exitCode }).toEqual({ outcome: "invalid", exitCode: 2 });
    expect(r.error).toMatch(/tcp\.routers\.all/);
    expect(r.error).toMatch(/can match hosts outside the run's domain/);
    expect((await listStacks(env)).length).toBe(before);
    // The warm layer is untouched: its Traefik still routes Keycloak and only Keycloak.
    expect(await warmStatus(WARM, env)).toMatchObject({ traefik: true, keycloak: true });
    expect(warmPrefix(WARM)).toBe("ccci_warm-e2e");
  });
});
