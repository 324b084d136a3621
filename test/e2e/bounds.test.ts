/**
 * Every byte a recipe controls is bounded, on the real swarm, Traefik and Pulumi engine: hostile runs
 * beside a victim run that passes, and the warm layer answering afterwards. A file read outside the
 * resolver, an expansion bomb, a body Traefik would hold, a disk filled, an output flood: each is
 * refused at validation (nothing created) or contained, with the figure that shows it.
 */
import { readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { dockerClient, runObjects } from "../../automation/adapters/docker";
import { warmStatus } from "../../automation/commands/warm";
import { listStacks } from "../../automation/adapters/pulumi";
import { warmPrefix } from "../../lib/naming";
import { tempRecipe } from "../helpers/recipes";
import { E2E_HOME, WARM, e2eEnv, ensureWarm, example, explain, logTo, run } from "./harness";
import { describeE2E } from "./prereq";

const env = e2eEnv();
const docker = dockerClient();
const WEB = readFileSync(path.join(example("web"), "compose.yml"), "utf8");

/** Nothing of the run: no object with its label or its name prefix, no stack. */
async function expectNothingLeft(runId: string): Promise<void> {
  const prefix = `run_${runId.replace(/-/g, "_")}_`;
  expect((await runObjects(docker, runId, prefix)).map((o) => `${o.kind} ${o.name}`)).toEqual([]);
  expect((await listStacks(env)).map((s) => s.name).filter((n) => n.includes(runId))).toEqual([]);
}

/** The most memory a container has used (cgroup v1's max_usage; v2 engines report usage only). */
async function peakMemory(id: string): Promise<number> {
  const st = (await docker.getContainer(id).stats({ stream: false })) as {
    memory_stats?: { max_usage?: number; usage?: number };
  };
  return st.memory_stats?.max_usage ?? st.memory_stats?.usage ?? 0;
}

/** The warm Traefik's task container: the same one before and after means it never restarted. */
async function warmTraefikContainer(): Promise<string> {
  const service = `${warmPrefix(WARM)}_traefik`;
  const [c] = await docker.listContainers({
    filters: JSON.stringify({ label: [`com.docker.swarm.service.name=${service}`] }),
  });
  return c?.Id ?? "";
}

describeE2E("bounds on what a recipe controls", () => {
  let victim: ReturnType<typeof run>;

  beforeAll(async () => {
    await ensureWarm(env);
    // The victim keeps its app up while the hostile runs go, then checks it through Traefik.
    victim = run({
      recipeDir: example("web"),
      hex: "b0a7ed",
      sso: "off",
      testCommand: ["bash", "-c", "sleep 240; exec /recipe/.cc-ci/test"],
    });
  }, 600_000);

  afterAll(async () => {
    const v = await victim;
    expect({ outcome: v.outcome, report: v.outcome === "passed" ? "" : explain(v) }).toEqual({
      outcome: "passed",
      report: "",
    });
    expect(await warmStatus(WARM, env)).toMatchObject({ exists: true, traefik: true });
  }, 600_000);

  test.each([
    ["/proc/self/environ", "the agent's environment"],
    [path.join(E2E_HOME, "passphrase"), "the Pulumi passphrase"],
    ["/dev/ptmx", "a terminal that blocks a read"],
    ["/dev/zero", "a file without end"],
  ])(
    ".cc-ci/image as a symlink to %s (%s): invalid at once, nothing created, nothing echoed",
    async (target) => {
      const dir = tempRecipe({ "compose.yml": WEB, ".cc-ci/test": "#!/bin/sh\ntrue\n" });
      symlinkSync(target, path.join(dir, ".cc-ci", "image"));
      const lines: string[] = [];
      const started = Date.now();
      const r = await run({ recipeDir: dir, sso: "off", log: (l) => lines.push(l) });
      expect([r.outcome, r.exitCode]).toEqual(["invalid", 2]);
      expect(r.error).toMatch(/\.cc-ci\/image: .*(outside the recipe|not a regular file)/);
      expect(Date.now() - started).toBeLessThan(60_000);
      const said = lines.join("\n") + JSON.stringify(r);
      expect(said).not.toMatch(/PATH=|HOME=|IS_SANDBOX/);
      expect(said).not.toContain(readFileSync(path.join(E2E_HOME, "passphrase"), "utf8").trim());
      await expectNothingLeft(r.runId);
    },
  );

  test("an .env.sample whose values double at every line: invalid in seconds, naming the line", async () => {
    const lines = ["A0=xxxxxxxxxxxxxxxx"];
    for (let i = 1; i <= 24; i++) lines.push(`A${i}=$A${i - 1}$A${i - 1}`);
    const dir = tempRecipe({ ".env.sample": lines.join("\n") + "\n", "compose.yml": WEB });
    const r = await run({ recipeDir: dir, sso: "off" });
    expect([r.outcome, r.exitCode]).toEqual(["invalid", 2]);
    expect(r.error).toMatch(/\.env\.sample:13: A12: expands to more than 65536 bytes|\.env\.sample:14: A13/);
    await expectNothingLeft(r.runId);
  });

  test("a template bomb and a healthcheck every millisecond: invalid at validation, nothing created", async () => {
    let t = '{{define "t0"}}xxxxxxxx{{end}}';
    for (let i = 1; i <= 10; i++)
      t += `{{define "t${i}"}}{{template "t${i - 1}"}}{{template "t${i - 1}"}}{{end}}`;
    const bomb = tempRecipe({
      "compose.yml": WEB.replace(
        "    deploy:",
        "    configs:\n      - source: c\n        target: /c\n    deploy:",
      ).replace(
        "networks:\n  proxy:",
        "configs:\n  c:\n    file: ./c.tmpl\n    template_driver: golang\nnetworks:\n  proxy:",
      ),
      "c.tmpl": `${t}{{range 1000}}{{template "t10"}}{{end}}`,
    });
    const r = await run({ recipeDir: bomb, sso: "off" });
    expect([r.outcome, r.exitCode]).toEqual(["invalid", 2]);
    expect(r.error).toMatch(/more than 10000 template calls/);
    await expectNothingLeft(r.runId);
    const probe = await run({
      recipeDir: tempRecipe({ "compose.yml": WEB.replace("interval: 3s", "interval: 1ms") }),
      sso: "off",
    });
    expect([probe.outcome, probe.exitCode]).toEqual(["invalid", 2]);
    expect(probe.error).toMatch(/healthcheck\.interval: 1ms is under the run's floor of 1s/);
  });

  test("a CPU limit of 0 is deployed as the run's default, not as no limit", async () => {
    const compose = WEB.replace(
      "    deploy:\n",
      "    deploy:\n      resources:\n        limits:\n          cpus: '0'\n",
    );
    let nanoCpus: number | undefined;
    const r = await run({
      recipeDir: tempRecipe({ "compose.yml": compose }),
      sso: "off",
      testCommand: ["bash", "-c", "sleep 5"],
      log: (l) => {
        if (/ test: /.test(l) && nanoCpus === undefined) {
          const runId = /\[([a-z0-9]+-[0-9a-f]{6})\]/.exec(l)?.[1] ?? "";
          void docker
            .listServices({ filters: JSON.stringify({ label: [`cc-ci.run=${runId}`] }) })
            .then((s) => (nanoCpus = s[0]?.Spec?.TaskTemplate?.Resources?.Limits?.NanoCPUs ?? -1));
        }
      },
    });
    expect({ outcome: r.outcome, report: r.outcome === "passed" ? "" : explain(r) }).toEqual({
      outcome: "passed",
      report: "",
    });
    expect(r.warnings.join("\n")).toMatch(/limits\.cpus: 0 would be no limit at all/);
    expect(nanoCpus).toBe(1e9);
  }, 600_000);

  test("a body Traefik would hold (2 GB in memory) is refused; a large POST within the caps leaves Traefik up", async () => {
    const middleware = (value: string) =>
      WEB.replace(
        '        - "coop-cloud.',
        `        - "traefik.http.middlewares.\${STACK_NAME}-buf.buffering.${value}"\n        - "traefik.http.routers.\${STACK_NAME}.middlewares=\${STACK_NAME}-buf"\n        - "coop-cloud.`,
      );
    const refused = await run({
      recipeDir: tempRecipe({ "compose.yml": middleware("memRequestBodyBytes=2000000000") }),
      sso: "off",
    });
    expect([refused.outcome, refused.exitCode]).toEqual(["invalid", 2]);
    expect(refused.error).toMatch(
      /memRequestBodyBytes: 2000000000 bytes are over the shared Traefik's limit/,
    );

    // Within the caps (Traefik's own 0 = unlimited disk buffer is capped too): 600 MB sent, 413 back.
    const before = await warmTraefikContainer();
    expect(before).not.toBe("");
    const post = `code=$(head -c 600000000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' --max-time 120 --resolve "$CI_CURL_RESOLVE" --data-binary @- "$CI_APP_URL/"); echo "POST: $code"; [ "$code" = 413 ]`;
    const lines: string[] = [];
    const r = await run({
      recipeDir: tempRecipe({ "compose.yml": middleware("retryExpression=IsNetworkError()") }),
      sso: "off",
      testCommand: ["bash", "-c", post],
      log: (l) => lines.push(l),
    });
    expect({ outcome: r.outcome, report: r.outcome === "passed" ? "" : explain(r) }).toEqual({
      outcome: "passed",
      report: "",
    });
    expect(lines.join("\n")).toMatch(/POST: 413/);
    expect(await warmTraefikContainer()).toBe(before);
    // The figure the warm Traefik's memory limit is set from (its limit here: 256 MiB).
    const peak = await peakMemory(before);
    logTo("bounds")(`warm Traefik's peak memory after a 600 MB POST through capped buffering: ${peak} bytes`);
    expect(peak).toBeLessThan(256 * 1024 * 1024);
  }, 600_000);

  test("a run that fills its disk is stopped at its budget, saying so, and torn down", async () => {
    const defaults = path.join(E2E_HOME, "bounds-defaults.yaml");
    writeFileSync(defaults, "limits:\n  disk: 64m\n");
    const compose = [
      'version: "3.8"',
      "services:",
      "  app:",
      '    image: "cc-ci/debian:bookworm"',
      "    command: [bash, -c, 'dd if=/dev/zero of=/data/fill bs=1M count=400; sleep 3600']",
      "    volumes: [data:/data]",
      "volumes:",
      "  data:",
      "",
    ].join("\n");
    const started = Date.now();
    const r = await run({
      recipeDir: tempRecipe({ "compose.yml": compose }),
      sso: "off",
      defaultsFile: defaults,
      testCommand: ["bash", "-c", "sleep 300"],
    });
    expect(r.outcome).not.toBe("passed");
    expect(r.error).toMatch(/over its budget of 64\.0 MiB \(limits\.disk\): volume run_\S+_data/);
    expect(Date.now() - started).toBeLessThan(240_000);
    expect([r.residue.docker, r.residue.stack ?? false]).toEqual([[], false]);
    await expectNothingLeft(r.runId);
  }, 600_000);

  test("a test that prints 700 MB without a newline, then 200k lines: the run's log stays within its budget", async () => {
    const flood =
      "head -c 700000000 /dev/zero | tr '\\0' x; echo; for i in $(seq 1 200000); do echo \"line $i\"; done; echo done-flooding";
    let said = 0;
    const kept: string[] = [];
    const r = await run({
      recipeDir: example("web"),
      sso: "off",
      testCommand: ["bash", "-c", flood],
      log: (l) => {
        said += l.length + 1;
        if (/test\| /.test(l) && /not kept|done-flooding/.test(l))
          kept.push(l.replace(/^.*test\| /, "").replace(/^x{100,}/, "xxx"));
      },
    });
    expect({ outcome: r.outcome, report: r.outcome === "passed" ? "" : explain(r) }).toEqual({
      outcome: "passed",
      report: "",
    });
    // The sandbox's budget (2 MiB relayed, each line counting what relaying adds to it, 8 KiB a
    // line) and the run's own lines around it.
    expect(said).toBeLessThan(2.2 * 1024 * 1024);
    // The long line cut, the middle counted, the end (the tail) still said.
    expect(kept).toEqual([
      expect.stringMatching(/^xxx … \(\d+ more bytes of this line not kept\)$/),
      expect.stringMatching(/^… \d+ lines \(\d+ bytes\) of output not kept …$/),
      "done-flooding",
    ]);
    await expectNothingLeft(r.runId);
  }, 900_000);
});
