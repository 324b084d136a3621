import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { RecipePolicy } from "../../lib/config";
import { loadRecipe, type LoadOptions } from "../../lib/recipe/load";
import { ValidationError, formatProblem } from "../../lib/errors";
import { runNames } from "../../lib/naming";

export const FIXTURES = path.join(__dirname, "..", "fixtures", "recipes");

/** The bundled example recipes: the folders of examples/ holding a compose.yml (examples/ci holds pipelines). */
export function exampleRecipes(): string[] {
  const root = path.join(__dirname, "..", "..", "examples");
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(root, d.name, "compose.yml")))
    .map((d) => path.join(root, d.name));
}

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

export const names = runNames("full", "a1b2c3");

export function options(dir: string, over: Partial<LoadOptions> = {}): LoadOptions {
  return {
    dir: fixture(dir),
    stackName: names.stackName,
    domain: `${names.runId}.ci.test`,
    proxyNetwork: "proxy",
    policy: RecipePolicy.parse({}),
    labels: { "cc-ci.run": names.runId },
    ...over,
  };
}

export function load(dir: string, over: Partial<LoadOptions> = {}) {
  return loadRecipe(options(dir, over));
}

/** The ValidationError a broken recipe throws (fails the test when none is thrown). */
export function problemsOf(dir: string, over: Partial<LoadOptions> = {}): string[] {
  try {
    load(dir, over);
  } catch (e) {
    if (e instanceof ValidationError) return e.problems.map(formatProblem);
    throw e;
  }
  throw new Error(`recipe ${dir} loaded without error`);
}

/**
 * A recipe written to a temporary folder, for cases too small to keep as fixtures; with an empty
 * `.env.sample` unless `files` gives one (`null` leaves it out), as every recipe abra deploys has one.
 */
export function tempRecipe(files: Record<string, string | null>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "cc-ci-recipe-"));
  for (const [name, content] of Object.entries({ ".env.sample": "", ...files })) {
    if (content === null) continue;
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}
