/**
 * `cc-ci check` (and a run's validation, which is the same load) reads no file of a recipe except
 * through the recipe's resolver (lib/recipe/files.ts): every read of a path inside the recipe, of
 * every bundled and fixture recipe, is walked and its caller checked. (The compose helper reads
 * `env_file`s itself, after its own guard of the same rules: go/compose-helper/envfiles.go.)
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the module object itself (not a namespace copy), so its functions can be wrapped where modules call them.
import fs = require("node:fs");
import * as path from "node:path";
import { checkRecipe } from "../../automation/commands/check";
import { PROJECT_DIR } from "../../lib/projectDir";
import { exampleRecipes } from "../helpers/recipes";

const recipes = [
  ...exampleRecipes(),
  ...fs
    .readdirSync(path.join(PROJECT_DIR, "test", "fixtures", "recipes"))
    .map((r) => path.join(PROJECT_DIR, "test", "fixtures", "recipes", r)),
].filter((d) => fs.statSync(d).isDirectory());

const READS = ["readFileSync", "openSync", "createReadStream", "readSync"] as const;

describe("every read of a recipe's files goes through its resolver", () => {
  test.each(recipes.map((r) => [path.relative(PROJECT_DIR, r), r]))("%s", (_name, dir) => {
    const root = fs.realpathSync(dir);
    const outside: string[] = [];
    let seen = 0;
    const spies = READS.map((name) => {
      const original = (fs as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
      return jest
        .spyOn(fs as unknown as Record<string, (...a: unknown[]) => unknown>, name)
        .mockImplementation((...args: unknown[]) => {
          const p = args[0];
          if (typeof p === "string" && (p.startsWith(root) || p.startsWith(dir))) {
            seen++;
            const stack = new Error().stack ?? "";
            if (!/lib[/\\]recipe[/\\]files\.ts/.test(stack)) outside.push(`${name} ${p}`);
          }
          return original.apply(fs, args);
        });
    });
    try {
      checkRecipe(dir, { projectDir: PROJECT_DIR });
    } finally {
      for (const s of spies) s.mockRestore();
    }
    expect(outside).toEqual([]);
    // The walk saw the reads (a recipe always has at least its compose file read).
    expect(seen).toBeGreaterThan(0);
  });
});
