/**
 * A recipe's variants (.cc-ci/variants/<name>.env): each an env overlay over .env.sample, read as
 * abra reads an app's env file; listed through the resolver with their names checked; planned by
 * `cc-ci check` one by one; their runs' JUnit suites merged into one document.
 */
import { mkdirSync, symlinkSync } from "node:fs";
import * as path from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { checkRecipe, checkText } from "../../automation/commands/check";
import { junitXml, mergeJunit } from "../../automation/commands/run/junit";
import type { RunReport } from "../../automation/commands/run/report";
import { RecipeFiles } from "../../lib/recipe/files";
import { listVariants } from "../../lib/recipe/variants";
import { exampleRecipes, load, problemsOf, tempRecipe } from "../helpers/recipes";

const ROOT = path.join(__dirname, "..", "..");
const compose = [
  'version: "3.8"',
  "services:",
  "  app:",
  "    image: x",
  "    environment:",
  '      GREETING: "${GREETING}"',
  '      MAIL: "${MAIL:-off}"',
  "",
].join("\n");

const recipe = (variants: Record<string, string>) =>
  tempRecipe({
    "compose.yml": compose,
    ".env.sample": "TYPE=greeter\nGREETING=hello\nNAME=world\n",
    ...Object.fromEntries(Object.entries(variants).map(([n, t]) => [`.cc-ci/variants/${n}`, t])),
  });

describe("variants", () => {
  test("a variant's values go over .env.sample's and expand against them; the recipe as it comes is untouched", () => {
    const dir = recipe({ "loud.env": "GREETING=${GREETING}, ${NAME}!\nMAIL=smtp\n" });
    const app = (variant?: string) => load("web", { dir, variant }).services[0].env;
    expect(app()).toMatchObject({ GREETING: "hello", MAIL: "off" });
    expect(app("loud")).toMatchObject({ GREETING: "hello, world!", MAIL: "smtp" });
  });

  test("a variant the recipe does not offer, or a name that is not one, is a problem", () => {
    const dir = recipe({ "loud.env": "MAIL=smtp\n" });
    expect(problemsOf("web", { dir, variant: "quiet" })).toEqual([
      expect.stringMatching(/^\.cc-ci\/variants: .*quiet\.env does not exist/),
    ]);
    expect(problemsOf("web", { dir, variant: "../../etc/passwd" })).toEqual([
      '.cc-ci/variants: "../../etc/passwd" is not a variant name',
    ]);
  });

  test("a variant's problems name its file and line", () => {
    const dir = recipe({ "bad.env": "OK=1\nNOT-A-NAME=2\n" });
    expect(problemsOf("web", { dir, variant: "bad" })).toEqual([
      '.cc-ci/variants/bad.env:2: not a KEY=value line (unexpected "-")',
    ]);
  });

  test("listed by name, sorted; other files ignored; a bad name said without being used", () => {
    const dir = recipe({ "b.env": "", "a.env": "", "README.md": "x", "Bad Name.env": "" });
    expect(listVariants(new RecipeFiles(dir))).toEqual({
      names: ["a", "b"],
      problems: [expect.stringMatching(/"Bad Name\.env" does not name a variant/)],
    });
    expect(listVariants(new RecipeFiles(recipe({})))).toEqual({ names: [], problems: [] });
  });

  test("a variants folder that leaves the recipe is not listed", () => {
    const dir = tempRecipe({ "compose.yml": compose });
    mkdirSync(path.join(dir, ".cc-ci"));
    symlinkSync("/etc", path.join(dir, ".cc-ci", "variants"));
    expect(listVariants(new RecipeFiles(dir)).problems).toEqual([
      expect.stringMatching(/^\.cc-ci\/variants: .*outside the recipe folder/),
    ]);
  });

  test("cc-ci check plans the recipe and each variant; one broken variant fails the check, named", () => {
    const dir = recipe({ "loud.env": "MAIL=smtp\n", "broken.env": "X\n" });
    const r = checkRecipe(dir, { projectDir: ROOT, recipe: "greeter" });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([]);
    expect(r.variants?.map((v) => [v.variant, v.ok])).toEqual([
      ["broken", false],
      ["loud", true],
    ]);
    const text = checkText(r);
    expect(text).toMatch(/^recipe greeter: would deploy as run/m);
    expect(text).toMatch(/^recipe greeter, variant broken: would NOT deploy — 1 problem/m);
    expect(text).toMatch(/^recipe greeter, variant loud: would deploy as run/m);
    expect(
      checkRecipe(dir, { projectDir: ROOT, recipe: "greeter", variant: "loud" }).variants,
    ).toBeUndefined();
  });

  test("the bundled examples' variants all plan", () => {
    const withVariants = exampleRecipes().filter((d) => listVariants(new RecipeFiles(d)).names.length > 0);
    expect(withVariants.length).toBeGreaterThan(0);
    for (const d of withVariants) expect(checkRecipe(d, { projectDir: ROOT }).ok).toBe(true);
  });
});

describe("JUnit of several variants", () => {
  const run = (variant: string | undefined, failed: boolean): RunReport => ({
    runId: "web-a1b2c3",
    recipe: "web",
    variant,
    stack: "run-web-a1b2c3",
    startedAt: "2026-12-07T10:00:00.000Z",
    durationMs: 1500,
    outcome: failed ? "failed" : "passed",
    exitCode: failed ? 1 : 0,
    phases: [
      { name: "up", start: "", durationMs: 1000, outcome: "ok" },
      { name: "test", start: "", durationMs: 500, outcome: failed ? "failed" : "ok" },
    ],
    residue: { docker: [] },
    warnings: [],
  });

  test("one suite per variant, named by it, the counts summed; valid XML", () => {
    const xml = mergeJunit([
      junitXml(run(undefined, false), [], []),
      junitXml(run("smtp", true), ["not ok 1 - mail"], []),
    ]);
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(xml).testsuites;
    expect([doc.tests, doc.failures, doc.time]).toEqual(["5", "2", "3.000"]);
    expect(doc.testsuite.map((s: { name: string; failures: string }) => [s.name, s.failures])).toEqual([
      ["cc-ci web", "0"],
      ["cc-ci web [smtp]", "2"],
    ]);
    expect(doc.testsuite[1].testcase[2].classname).toBe("web.smtp.tests");
  });
});
