/** `cc-ci check`: every example and fixture planned as a run would be, or every problem with its file and line. */
import { readdirSync } from "node:fs";
import * as path from "node:path";
import { checkRecipe, checkText } from "../../automation/commands/check";
import { FIXTURES, exampleRecipes } from "../helpers/recipes";

const ROOT = path.join(__dirname, "..", "..");
const examples = exampleRecipes();
const fixtures = readdirSync(FIXTURES).map((d) => path.join(FIXTURES, d));
// The examples are a catalogue too: examples/front takes examples/web from it.
const check = (dir: string) => checkRecipe(dir, { projectDir: ROOT, catalogue: path.join(ROOT, "examples") });

describe("cc-ci check", () => {
  test.each([...examples, ...fixtures.filter((f) => !path.basename(f).startsWith("broken-"))])(
    "%s: would deploy, and the plan names its services, routers and secrets (masked)",
    (dir) => {
      const r = check(dir);
      expect({ ok: r.ok, problems: r.problems }).toEqual({ ok: true, problems: [] });
      expect(r.plan?.services.length).toBeGreaterThan(0);
      const text = checkText(r);
      expect(text).toMatch(/would deploy as run/);
      expect(text).not.toMatch(/@@cc-ci-secret/);
    },
  );

  test.each(fixtures.filter((f) => path.basename(f).startsWith("broken-")))(
    "%s: every problem, with its file",
    (dir) => {
      const r = check(dir);
      expect(r.ok).toBe(false);
      expect(r.problems.length).toBeGreaterThan(0);
      for (const p of r.problems) expect(p).toMatch(/^(compose\.yml|\.env\.sample|[\w./-]+\.ya?ml)(:\d+)?: /);
    },
  );

  test("operator values given with --env reach the recipe's environment", () => {
    const r = checkRecipe(path.join(ROOT, "examples", "web"), {
      projectDir: ROOT,
      env: { WHOAMI_NAME: "from --env" },
    });
    expect(r.plan?.services[0].env.WHOAMI_NAME).toBe("from --env");
  });
});
