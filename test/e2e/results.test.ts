/**
 * What a run says when it fails, on a real swarm: an app that dies at start fails converge at once —
 * with its exit code and its own message from its log, in the report and the JUnit file — instead of
 * waiting out the deploy timeout; an app that exits until what it needs is there (restarted, as Docker
 * does) still converges; every run leaves its services' logs, its tasks' history and its test's
 * output, secrets masked, and the run as JUnit XML with a case per TAP line.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describeE2E } from "./prereq";
import { E2E_HOME, e2eEnv, ensureWarm, example, explain, run } from "./harness";
import { tempRecipe } from "../helpers/recipes";

const out = mkdtempSync(path.join(tmpdir(), "cc-ci-results-"));
/**
 * The run page as a browser renders it: headless Chromium (the sandbox image's) loads a copy of the
 * page and says what it shows; a screenshot is left beside it.
 */
function renderPage(page: string): {
  outcome: string;
  why: string;
  logs: string[];
  phases: string[];
  images: number[][];
} {
  const dir = mkdtempSync(path.join(tmpdir(), "cc-ci-page-"));
  chmodSync(dir, 0o777);
  copyFileSync(page, path.join(dir, "report.html"));
  chmodSync(path.join(dir, "report.html"), 0o644);
  writeFileSync(
    path.join(dir, "render.js"),
    `const { launch } = require("cc-ci-browser");
(async () => {
  const browser = await launch();
  const page = await browser.newPage();
  await page.goto("file:///page/report.html");
  const text = (sel) => page.textContent(sel).then((t) => t ?? "");
  const out = {
    outcome: await text(".outcome"),
    why: (await page.$("pre.error")) ? await text("pre.error") : "",
    images: await page.$$eval("figure img", (is) => is.map((i) => [i.naturalWidth, i.naturalHeight])),
    logs: await page.$$eval("section.log h3", (hs) => hs.map((h) => h.textContent)),
    phases: await page.$$eval("table.timeline tr", (rows) => rows.map((r) => r.cells[0].textContent + " " + r.cells[1].textContent)),
  };
  await page.screenshot({ path: "/page/report.png", fullPage: true });
  await browser.close();
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`,
  );
  const out = execFileSync(
    "docker",
    [
      "run",
      "--rm",
      "--network",
      "none",
      "-v",
      `${dir}:/page`,
      "--entrypoint",
      "node",
      "cc-ci/sandbox:1",
      "/page/render.js",
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  expect(existsSync(path.join(dir, "report.png"))).toBe(true);
  return JSON.parse(out.trim().split("\n").pop() as string);
}

/** Every regular file under `dir`. */
const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.join(dir, e.name)) : e.isFile() ? [path.join(dir, e.name)] : [],
  );

const parse = (file: string) => {
  const xml = readFileSync(file, "utf8");
  expect(XMLValidator.validate(xml)).toBe(true);
  return new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(xml).testsuites.testsuite;
};

const compose = (script: string) =>
  [
    "services:",
    "  app:",
    "    image: cc-ci/nginx:bookworm",
    `    entrypoint: ["bash", "-c", ${JSON.stringify(script)}]`,
    "    deploy:",
    "      restart_policy:",
    "        delay: 1s",
    "",
  ].join("\n");

describeE2E("converge", () => {
  beforeAll(() => ensureWarm(e2eEnv()), 600_000);

  test("an app that dies at start fails converge at once with its exit code and its message", async () => {
    const dir = tempRecipe({
      "compose.yml": compose("echo starting; echo 'FATAL: DATABASE_URL is not set' >&2; exit 3"),
    });
    const started = Date.now();
    const junit = path.join(out, "cras.xml");
    const r = await run({ recipeDir: dir, recipe: "cras", deployTimeout: 300, junitFile: junit });
    const seconds = (Date.now() - started) / 1000;
    expect({ outcome: r.outcome, exitCode: r.exitCode }).toEqual({ outcome: "setup-failed", exitCode: 80 });
    const converge = r.phases.find((p) => p.name === "converge");
    expect(converge?.outcome).toBe("failed");
    expect(r.error).toMatch(/services keep failing/);
    expect(r.error).toMatch(/_app ended \d+ times \(the last failed, exit code 3/);
    expect(r.error).toContain("FATAL: DATABASE_URL is not set");
    // Not the 300 s of the timeout: three quick ends and the teardown.
    expect(seconds).toBeLessThan(150);
    expect(r.residue).toEqual({ docker: [], stack: false });
    // The CI server's view: the converge case failed with the app's own message.
    const cases = parse(junit).testcase as { name: string; failure?: { "#text": string } }[];
    expect(cases.find((c) => c.name === "converge")?.failure?.["#text"]).toContain(
      "FATAL: DATABASE_URL is not set",
    );
    // And its log is kept whole beside the report.
    const log = path.join(r.artifacts?.dir ?? "", "services", `run_${r.runId.replace(/-/g, "_")}_app.log`);
    expect(readFileSync(log, "utf8")).toContain("FATAL: DATABASE_URL is not set");
    // The run page, in a real browser: the outcome, why, the failing service's log first.
    const shown = renderPage(path.join(path.dirname(r.artifacts?.dir ?? ""), "report.html"));
    expect(shown.outcome).toBe("setup-failed");
    expect(shown.why).toContain("FATAL: DATABASE_URL is not set");
    expect(shown.logs[0]).toBe(`run_${r.runId.replace(/-/g, "_")}_app — a task of it failed`);
    expect(shown.phases).toContain("failed converge");
  });

  test("an app that exits until what it needs is there is restarted and converges, as with Docker", async () => {
    // Fails twice (a file in a volume counts its starts), then runs. (`$$`: a `$` past compose's interpolation.)
    const script = [
      "n=$$(cat /data/starts 2>/dev/null || echo 0); echo $$((n+1)) > /data/starts",
      '[ "$$n" -ge 2 ] || { echo "database not ready ($$n)" >&2; exit 1; }',
      "exec sleep 3600",
    ].join("; ");
    const dir = tempRecipe({
      "compose.yml":
        compose(script).replace("    deploy:", "    volumes:\n      - data:/data\n    deploy:") +
        "volumes:\n  data:\n",
    });
    const r = await run({ recipeDir: dir, recipe: "late", deployTimeout: 300, testCommand: ["true"] });
    expect({ outcome: r.outcome, exitCode: r.exitCode }).toEqual({ outcome: "passed", exitCode: 0 });
    expect(r.phases.find((p) => p.name === "converge")?.outcome).toBe("ok");
    expect(explain(r)).not.toMatch(/keep failing/);
  });

  test("a service that floods its log leaves its last lines within the bound, not the flood", async () => {
    // ~40 MiB of log at start (400k lines of 100 bytes), then a last line, then quiet.
    const script = [
      `line=${"x".repeat(95)}`,
      'for i in $$(seq 1 400000); do echo "$$i $$line"; done',
      "echo 'the flood is over'",
      "exec sleep 3600",
    ].join("; ");
    const dir = tempRecipe({ "compose.yml": compose(script) });
    const r = await run({ recipeDir: dir, recipe: "flood", testCommand: ["sleep", "20"] });
    expect({ outcome: r.outcome, exitCode: r.exitCode }).toEqual({ outcome: "passed", exitCode: 0 });
    const log = path.join(r.artifacts?.dir ?? "", "services", `run_${r.runId.replace(/-/g, "_")}_app.log`);
    // The bound: ARTIFACT_LIMITS (2000 lines, 1 MiB), the tail kept.
    expect(statSync(log).size).toBeLessThanOrEqual(1024 * 1024 + 200);
    const lines = readFileSync(log, "utf8").trimEnd().split("\n");
    expect(lines.length).toBeLessThanOrEqual(2001);
    expect(lines[lines.length - 1]).toMatch(/the flood is over$/);
    expect(lines[lines.length - 2]).toMatch(/400000 x{95}$/);
    expect(r.residue).toEqual({ docker: [], stack: false });
  });

  test("a run's artifacts and JUnit: logs, task history, the test's output and TAP cases, secrets masked", async () => {
    const junit = path.join(out, "sso.xml");
    const artifacts = path.join(out, "sso-artifacts");
    const test = [
      'echo "ok 1 - the realm answers"',
      'echo "not ok 2 - logs in as $CI_TEST_USER with $CI_TEST_PASSWORD"',
      'echo "  # the client secret was $CI_OIDC_CLIENT_SECRET"',
      // The secrets themselves, in a form the masking cannot know, for the grep below.
      'echo "# carried $(printf "%s\\n%s" "$CI_TEST_PASSWORD" "$CI_OIDC_CLIENT_SECRET" | base64 -w0)"',
      "exit 1",
    ].join("; ");
    const r = await run({
      recipeDir: example("sso"),
      testCommand: ["bash", "-c", test],
      junitFile: junit,
      artifactsDir: artifacts,
    });
    expect({ outcome: r.outcome, exitCode: r.exitCode }).toEqual({ outcome: "failed", exitCode: 1 });
    expect(r.artifacts?.dir).toBe(artifacts);
    expect(r.artifacts?.files).toEqual(expect.arrayContaining(["test.log", "tasks.json"]));
    const stack = `run_${r.runId.replace(/-/g, "_")}`;
    expect(r.artifacts?.files.filter((f) => f.startsWith("services/"))).toContain(
      `services/${stack}_app.log`,
    );
    const testLog = readFileSync(path.join(artifacts, "test.log"), "utf8");
    expect(testLog).toMatch(/^not ok 2 - logs in as \S+ with \*\*\*$/m);
    expect(testLog).toMatch(/# the client secret was \*\*\*$/m);
    const tasks = JSON.parse(readFileSync(path.join(artifacts, "tasks.json"), "utf8")) as {
      service: string;
      state: string;
    }[];
    expect(tasks.find((t) => t.service === `${stack}_app`)?.state).toBe("running");
    const suite = parse(junit);
    expect(suite.name).toBe("cc-ci sso");
    const cases = suite.testcase as { classname: string; name: string; failure?: { "#text": string } }[];
    expect(cases.filter((c) => c.classname === "sso.tests").map((c) => [c.name, Boolean(c.failure)])).toEqual(
      [
        ["the realm answers", false],
        [expect.stringMatching(/^logs in as \S+ with \*\*\*$/), true],
      ],
    );
    expect(cases.find((c) => c.name === "test")?.failure?.["#text"]).toContain("client secret was ***");
    expect(existsSync(path.join(artifacts, "services", `${stack}_app.log`))).toBe(true);
    // Nothing the run left holds a secret it generated: every file collected, the JUnit file, the
    // report and the run page, grepped for the values the test was given.
    const carried = /^# carried (\S+)$/m.exec(testLog)?.[1] ?? "";
    const secrets = Buffer.from(carried, "base64").toString("utf8").split("\n");
    expect(secrets.map((v) => v.length >= 8)).toEqual([true, true]);
    const home = path.join(E2E_HOME, "runs", r.runId);
    const left = [
      junit,
      path.join(home, "report.json"),
      path.join(home, "report.html"),
      ...filesUnder(artifacts),
    ];
    expect(left.length).toBeGreaterThan(5);
    const holding = left.filter((f) => secrets.some((v) => readFileSync(f, "utf8").includes(v)));
    expect(holding).toEqual([]);
  });

  test("the SSO example's browser check leaves a screenshot in the artifacts, shown on the run page", async () => {
    const r = await run({ recipeDir: example("sso") });
    expect({ outcome: r.outcome, report: r.outcome === "passed" ? "" : explain(r) }).toEqual({
      outcome: "passed",
      report: "",
    });
    expect(r.artifacts?.files).toEqual(expect.arrayContaining(["test/logged-in.png", "plan.txt"]));
    // The plan as `cc-ci check` prints it, and when each service came up.
    const plan = readFileSync(path.join(r.artifacts?.dir ?? "", "plan.txt"), "utf8");
    expect(plan).toContain(`would deploy as run ${r.runId} at ${r.appUrl}`);
    const app = r.services?.find((x) => x.service.endsWith("_app"));
    expect(app?.upAfterMs).toBeGreaterThan(0);
    expect(app?.upAfterMs).toBeLessThan(r.durationMs);
    const png = readFileSync(path.join(r.artifacts?.dir ?? "", "test", "logged-in.png"));
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    // The tests' volume went with the run.
    expect(r.residue).toEqual({ docker: [], stack: false });
    const shown = renderPage(path.join(path.dirname(r.artifacts?.dir ?? ""), "report.html"));
    expect(shown.outcome).toBe("passed");
    expect(shown.images).toEqual([[expect.any(Number), expect.any(Number)]]);
    expect(shown.images[0][0]).toBeGreaterThan(100);
  });
});
