/**
 * A recipe's variants on a real swarm: `cc-ci run --all-variants` (the command line, as a CI agent
 * starts it) tests examples/multi as it comes and its variant `renamed` (its database named
 * otherwise, its config version bumped) side by side, each a run of its own with its own report, and
 * writes one JUnit document with a suite per variant; a variant the recipe does not offer is
 * invalid before anything is created. `--quick` runs on the warm layer only, or fails at once.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { RunReport } from "../../automation/commands/run/report";
import { describeE2E } from "./prereq";
import { E2E_HOME, ROOT, WARM, e2eEnv, ensureWarm, example, explain, run } from "./harness";

const out = mkdtempSync(path.join(tmpdir(), "cc-ci-variants-"));

function ccci(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      path.join(ROOT, "bin", "cc-ci"),
      args,
      { env: { ...process.env, CC_CI_HOME: E2E_HOME }, maxBuffer: 64 * 1024 * 1024, timeout: 1_200_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describeE2E("variants", () => {
  beforeAll(() => ensureWarm(e2eEnv()), 600_000);

  test("--all-variants: the recipe and its variant run side by side, each reported, a JUnit suite each", async () => {
    const junit = path.join(out, "multi.xml");
    const r = await ccci([
      "run",
      example("multi"),
      "--warm-stack",
      WARM,
      "--all-variants",
      "--junit",
      junit,
      "--json",
    ]);
    expect({ code: r.code, tail: r.code === 0 ? "" : r.stderr.slice(-3000) }).toEqual({ code: 0, tail: "" });
    const reports = JSON.parse(r.stdout) as RunReport[];
    expect(reports.map((x) => [x.variant ?? "as it comes", x.outcome])).toEqual([
      ["as it comes", "passed"],
      ["renamed", "passed"],
    ]);
    expect(reports[0].runId).not.toBe(reports[1].runId);
    for (const x of reports) expect(x.residue).toEqual({ docker: [], stack: false });
    // Side by side: the second started before the first ended.
    const [a, b] = reports.map((x) => ({
      start: Date.parse(x.startedAt),
      end: Date.parse(x.startedAt) + x.durationMs,
    }));
    expect(b.start).toBeLessThan(a.end);
    // The variant's own test saw CI_VARIANT and its database; the summary names each.
    expect(r.stderr).toMatch(/cc-ci run: variant renamed: PASSED, exit 0/);
    const xml = readFileSync(junit, "utf8");
    expect(XMLValidator.validate(xml)).toBe(true);
    const suites = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(xml).testsuites
      .testsuite as { name: string; failures: string }[];
    expect(suites.map((s) => [s.name, s.failures])).toEqual([
      ["cc-ci multi", "0"],
      ["cc-ci multi [renamed]", "0"],
    ]);
  }, 1_200_000);

  test("--quick: the SSO example on the warm layer only, its tests told; no warm layer fails at once", async () => {
    const r = await run({ recipeDir: example("sso"), quick: true });
    expect({ outcome: r.outcome, why: r.outcome === "passed" ? "" : explain(r) }).toEqual({
      outcome: "passed",
      why: "",
    });
    expect([r.quick, r.mode]).toEqual([true, "warm"]);
    const started = Date.now();
    const none = await run({ recipeDir: example("sso"), quick: true, warmStack: "no-such-warm" });
    expect([none.outcome, none.exitCode]).toEqual(["invalid", 2]);
    expect(none.error).toMatch(/warm SSO was asked for, but the warm Keycloak is unusable/);
    expect(none.phases.map((p) => p.name)).not.toContain("up");
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 600_000);

  test("a variant the recipe does not offer: invalid, nothing created", async () => {
    const r = await run({ recipeDir: example("multi"), variant: "nope" });
    expect([r.outcome, r.exitCode]).toEqual(["invalid", 2]);
    expect(r.error).toMatch(/\.cc-ci\/variants: .*nope\.env does not exist/);
    expect(r.phases.map((p) => p.name)).not.toContain("up");
  });
});
