/**
 * What a run leaves for people to read: its secrets masked, logs kept by their tail within a byte
 * budget, the run as JUnit XML (a case per phase and per TAP line), checked as XML by a real parser.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import * as tar from "tar-stream";
import { parse as parseYaml } from "yaml";
import { cli } from "../../cli/main";
import {
  extractTestArtifacts,
  mask,
  tailBytes,
  testArtifactPath,
} from "../../automation/commands/run/artifacts";
import { junitXml, parseTap, xmlText } from "../../automation/commands/run/junit";
import { pageLogs, runPage } from "../../automation/commands/run/page";
import type { RunReport } from "../../automation/commands/run/report";
import { listRuns, runsIndex, runsTable } from "../../automation/commands/runs";

const report = (extra: Partial<RunReport> = {}): RunReport => ({
  runId: "web-a1b2c3",
  recipe: "web",
  stack: "run-web-a1b2c3",
  startedAt: "2026-12-07T10:00:00.000Z",
  durationMs: 42_500,
  outcome: "failed",
  exitCode: 1,
  testExitCode: 1,
  phases: [
    { name: "up", start: "", durationMs: 8000, outcome: "ok" },
    { name: "reachable", start: "", durationMs: 0, outcome: "skipped", error: "the recipe routes nothing" },
    { name: "test", start: "", durationMs: 3000, outcome: "failed" },
  ],
  residue: { docker: [] },
  warnings: [],
  ...extra,
});

describe("masking and log tails", () => {
  test("every secret becomes ***, a longer one whole even when it contains a shorter one", () => {
    expect(mask("user s3cret-and-more logged in with s3cret-", ["s3cret-", "s3cret-and-more"])).toBe(
      "user *** logged in with ***",
    );
    expect(mask("nothing here", [])).toBe("nothing here");
  });

  test("a log's tail within a byte budget, whole lines, saying what was left out", () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`);
    const kept = tailBytes(lines, 40);
    expect(kept).toBe("… 95 earlier lines not kept …\nline 95\nline 96\nline 97\nline 98\nline 99\n");
    expect(tailBytes(["a", "b"], 1000)).toBe("a\nb\n");
  });
});

describe("JUnit XML of a run", () => {
  test("TAP lines: ok, not ok with its diagnostics, SKIP, TODO (not a failure), numbers without names", () => {
    expect(
      parseTap([
        "TAP version 13",
        "1..4",
        "ok 1 - logs in",
        "not ok 2 - uploads a file",
        "  # got 500",
        "ok 3 # SKIP no mail configured",
        "not ok 4 - renders thumbnails # TODO not yet",
        "ok",
      ]),
    ).toEqual([
      { name: "logs in", ok: true, detail: [] },
      { name: "uploads a file", ok: false, detail: ["  # got 500"] },
      { name: "test 3", ok: true, skipped: "no mail configured", detail: [] },
      { name: "renders thumbnails", ok: true, detail: [] },
      { name: "test 5", ok: true, detail: [] },
    ]);
    expect(parseTap(["plain output", "all good"])).toEqual([]);
  });

  test("a case per phase and per TAP line; the failed test carries the output's tail; valid XML; secrets masked", () => {
    const output = [
      "ok 1 - logs in",
      "not ok 2 - uploads <file> & \u001b[31mfails\u001b[0m",
      "password was hunter2-secret",
    ];
    const xml = junitXml(report({ error: "the test failed: see hunter2-secret" }), output, [
      "hunter2-secret",
    ]);
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml).not.toContain("hunter2-secret");
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(xml);
    const suite = doc.testsuites.testsuite;
    expect(suite).toMatchObject({
      name: "cc-ci web",
      tests: "5",
      failures: "2",
      skipped: "1",
      time: "42.500",
    });
    const cases = suite.testcase as {
      classname: string;
      name: string;
      failure?: unknown;
      skipped?: unknown;
    }[];
    expect(
      cases.map(
        (c) =>
          `${c.classname}/${c.name}:${c.failure ? "failed" : c.skipped !== undefined ? "skipped" : "ok"}`,
      ),
    ).toEqual([
      "web.phases/up:ok",
      "web.phases/reachable:skipped",
      "web.phases/test:failed",
      "web.tests/logs in:ok",
      "web.tests/uploads <file> & ?[31mfails?[0m:failed",
    ]);
    const testFailure = cases[2].failure as { message: string; "#text": string };
    expect(testFailure.message).toBe("the test exited 1");
    expect(testFailure["#text"]).toContain("password was ***");
    expect(suite["system-err"]).toBe("the test failed: see ***");
  });

  test("XML text: the five entities escaped, characters XML cannot hold replaced", () => {
    expect(xmlText(`<a href="x">'&'</a>\u0000\u0007ok\t`)).toBe(
      "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;??ok\t",
    );
  });
});

describe("the run page and the runs index", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "cc-ci-page-"));
  const artifacts = path.join(dir, "web-a1b2c3", "artifacts");
  mkdirSync(path.join(artifacts, "services"), { recursive: true });
  writeFileSync(path.join(artifacts, "services", "run_web_a1b2c3_app.log"), "10:00:01.000 serving\n");
  writeFileSync(
    path.join(artifacts, "services", "run_web_a1b2c3_worker.log"),
    "10:00:02.000 <script>alert(1)</script> & died\n",
  );
  writeFileSync(
    path.join(artifacts, "tasks.json"),
    JSON.stringify([
      { service: "run_web_a1b2c3_app", state: "running" },
      { service: "run_web_a1b2c3_worker", state: "failed", exitCode: 2 },
    ]),
  );
  writeFileSync(path.join(artifacts, "test.log"), "ok 1 - fine\n");
  const r = report({
    error: "the test failed",
    warnings: ["a <warning>"],
    artifacts: {
      dir: artifacts,
      files: [
        "test.log",
        "tasks.json",
        "services/run_web_a1b2c3_app.log",
        "services/run_web_a1b2c3_worker.log",
      ],
      problems: [],
    },
  });

  test("well-formed, the failing service's log first, every byte of the recipe's escaped, no script", () => {
    const page = runPage(r);
    expect(XMLValidator.validate(page.replace("<!DOCTYPE html>", ""))).toBe(true);
    expect(page).not.toMatch(/<script/i);
    expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt; &amp; died");
    expect(pageLogs(r).map((l) => [l.service, l.failing])).toEqual([
      ["run_web_a1b2c3_worker", true],
      ["run_web_a1b2c3_app", false],
    ]);
    expect(page.indexOf("run_web_a1b2c3_worker")).toBeLessThan(page.indexOf("run_web_a1b2c3_app"));
    expect(page).toContain("ok 1 - fine");
  });

  test("each service's convergence under the phases, from the run's start; one never up shown without a time", () => {
    const page = runPage({
      ...r,
      services: [
        { service: "run_web_a1b2c3_app", upAfterMs: 12_345 },
        { service: "run_web_a1b2c3_<b>odd</b>" },
      ],
    });
    expect(XMLValidator.validate(page.replace("<!DOCTYPE html>", ""))).toBe(true);
    const rows = [...page.matchAll(/<tr class="service">(.*?)<\/tr>/g)].map((m) =>
      [...m[1].matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1]).slice(0, 3),
    );
    expect(rows).toEqual([
      ["up", "run_web_a1b2c3_app", "+12.3 s"],
      ["", "run_web_a1b2c3_&lt;b&gt;odd&lt;/b&gt;", ""],
    ]);
    expect(runPage(r)).not.toContain('class="service"');
  });

  test("`cc-ci runs`: newest first, an unreadable report named, the index links each run's page", () => {
    const runs = path.join(dir, "runs");
    const put = (id: string, body: string, page = true) => {
      mkdirSync(path.join(runs, id), { recursive: true });
      writeFileSync(path.join(runs, id, "report.json"), body);
      if (page) writeFileSync(path.join(runs, id, "report.html"), "<html/>");
    };
    put(
      "web-000001",
      JSON.stringify(
        report({ runId: "web-000001", startedAt: "2026-01-07T09:00:00Z", pr: 7, ref: "abcdef0123456789" }),
      ),
    );
    put(
      "web-000002",
      JSON.stringify(
        report({ runId: "web-000002", startedAt: "2026-01-07T10:00:00Z", outcome: "passed", exitCode: 0 }),
      ),
    );
    put("web-000003", "{ not json", false);
    const listed = listRuns(runs, 10);
    expect(listed.map((e) => [e.runId, e.outcome ?? e.problem?.split(":")[0]])).toEqual([
      ["web-000003", "unreadable report"],
      ["web-000002", "passed"],
      ["web-000001", "failed"],
    ]);
    expect(listRuns(runs, 1)).toHaveLength(1);
    const table = runsTable(listed);
    expect(table).toMatch(/failed \(1\)\s+42\.5 s\s+web\s+#7\s+abcdef012345/);
    const index = runsIndex(listed, runs);
    expect(XMLValidator.validate(index.replace("<!DOCTYPE html>", ""))).toBe(true);
    expect(index).toContain('href="web-000002/report.html"');
    expect(index).toContain('href="web-000003/report.json"');
  });
});

describe("what the tests leave in /artifacts", () => {
  test("names: under the run's test/ folder only, odd characters replaced", () => {
    expect(testArtifactPath("artifacts/shots/a.png")).toBe("shots/a.png");
    expect(testArtifactPath("artifacts/../../etc/passwd")).toBeUndefined();
    expect(testArtifactPath("artifacts/a/../../b")).toBeUndefined();
    expect(testArtifactPath("artifacts/")).toBeUndefined();
    expect(testArtifactPath("artifacts/we ird$name.txt")).toBe("we_ird_name.txt");
    expect(testArtifactPath(`artifacts/${"x".repeat(300)}`)).toBeUndefined();
  });

  async function archive(
    entries: { name: string; body?: string; type?: "file" | "symlink"; linkname?: string }[],
  ) {
    const pack = tar.pack();
    for (const e of entries) {
      if (e.type === "symlink") pack.entry({ name: e.name, type: "symlink", linkname: e.linkname });
      else pack.entry({ name: e.name }, e.body ?? "");
    }
    pack.finalize();
    return pack;
  }

  test("regular files copied; links and escaping names skipped and said; past the limits the rest is not read", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "cc-ci-testart-"));
    const got = await extractTestArtifacts(
      await archive([
        { name: "artifacts/shot.png", body: "png" },
        { name: "artifacts/link", type: "symlink", linkname: "/etc/shadow" },
        { name: "artifacts/../escape.txt", body: "no" },
        { name: "artifacts/deep/trace.zip", body: "zip" },
      ]),
      dir,
    );
    expect(got.files).toEqual(["shot.png", "deep/trace.zip"]);
    expect(got.problems).toEqual([
      expect.stringMatching(/^skipped artifacts\/link \(symlink/),
      expect.stringMatching(/^skipped artifacts\/\.\.\/escape\.txt/),
    ]);
    expect(readFileSync(path.join(dir, "deep", "trace.zip"), "utf8")).toBe("zip");
    expect(existsSync(path.join(dir, "..", "escape.txt"))).toBe(false);

    const small = mkdtempSync(path.join(tmpdir(), "cc-ci-testart-"));
    const capped = await extractTestArtifacts(
      await archive([
        { name: "artifacts/a", body: "12345" },
        { name: "artifacts/b", body: "67890" },
        { name: "artifacts/c", body: "x" },
      ]),
      small,
      { maxBytes: 8, maxFiles: 10 },
    );
    expect(capped.files).toEqual(["a"]);
    expect(capped.problems).toEqual([
      expect.stringMatching(/more than 10 files or .* MiB: the rest was not kept/),
    ]);
  });
});

describe("examples/ci: the pipelines call cc-ci run as it is", () => {
  const dir = path.join(__dirname, "..", "..", "examples", "ci");
  const run = cli().commands.find((c) => c.name() === "run");
  const known = new Set(run?.options.map((o) => o.long));

  test.each(["woodpecker.yml", "forgejo.yml", "gitlab-ci.yml"])(
    "%s: valid YAML whose cc-ci run uses only options run has, with --junit and --artifacts",
    (file) => {
      const doc = parseYaml(readFileSync(path.join(dir, file), "utf8")) as unknown;
      const strings = (v: unknown): string[] =>
        typeof v === "string" ? [v] : v && typeof v === "object" ? Object.values(v).flatMap(strings) : [];
      const commands = strings(doc).filter((x) => /cc-ci"? run /.test(x));
      expect(commands).toHaveLength(1);
      const flags = (commands[0] ?? "").match(/--[a-z-]+/g) ?? [];
      expect(flags.filter((f) => !known.has(f))).toEqual([]);
      expect(flags).toEqual(expect.arrayContaining(["--pr", "--ref", "--junit", "--artifacts"]));
    },
  );
});
