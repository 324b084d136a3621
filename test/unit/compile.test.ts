/**
 * bin/compile.js: the sources transpiled once per version into .build/, which cc-ci and the Pulumi
 * program's language host run instead of TypeScript through ts-node.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { compiled, compiledDir } = require(path.join(ROOT, "bin", "compile.js")) as {
  compiled: (source: string) => string;
  compiledDir: () => string;
};
const node = path.join(ROOT, "node_modules", ".bin", "node");

describe("the transpiled sources", () => {
  test("one folder per version of the sources, made once: asking again gives the same", () => {
    const dir = compiledDir();
    expect(path.relative(ROOT, dir)).toMatch(/^\.build\/js-[0-9a-f]{16}$/);
    expect(compiledDir()).toBe(dir);
    for (const f of ["index.js", "program.js", "cli/main.js", "components/registry.js", "lib/recipe/load.js"])
      expect(existsSync(path.join(dir, f))).toBe(true);
  });

  test("the copy finds the project's own folder (images, scripts), not .build's", () => {
    const out = execFileSync(
      node,
      ["-e", `process.stdout.write(require(${JSON.stringify(compiled("lib/projectDir.ts"))}).PROJECT_DIR)`],
      {
        encoding: "utf8",
      },
    );
    expect(out).toBe(ROOT);
  });

  test("bin/cc-ci runs the copy, with source maps to the TypeScript", () => {
    const help = execFileSync(path.join(ROOT, "bin", "cc-ci"), ["--help"], { encoding: "utf8" });
    expect(help).toMatch(/Usage: cc-ci/);
    const js = readFileSync(compiled("cli/main.ts"), "utf8");
    const map = /sourceMappingURL=data:application\/json;base64,(\S+)/.exec(js)?.[1] ?? "";
    const decoded = JSON.parse(Buffer.from(map, "base64").toString()) as {
      sourceRoot: string;
      sources: string[];
    };
    expect(path.join(decoded.sourceRoot, decoded.sources[0])).toBe(path.join(ROOT, "cli", "main.ts"));
  });

  test("Pulumi.yaml's main is the transpiled program, with no TypeScript compiler in the language host", () => {
    const yaml = readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
    expect(yaml).toMatch(/^main: bin\/program\.js$/m);
    expect(yaml).toMatch(/typescript: false/);
  });
});
