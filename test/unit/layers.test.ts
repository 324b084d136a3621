/** The layers point one way (cli → automation → components → lib); the linter refuses a change that crosses them. */
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");

const UPWARD: [string, string][] = [
  ["lib/x.ts", 'import { CiRun } from "../components";'],
  ["lib/recipe/x.ts", 'import { Traefik } from "../../components/traefik";'],
  ["lib/x.ts", 'import { ciRun } from "../automation/commands/run";'],
  ["lib/x.ts", 'import { program } from "../program";'],
  ["components/x.ts", 'import { audit } from "../automation/commands/audit";'],
  ["components/x.ts", 'import { cli } from "../cli/main";'],
  ["automation/commands/run/x.ts", 'import { cli } from "../../../cli/main";'],
  ["automation/adapters/x.ts", 'import { ciRun } from "../commands/run";'],
  ["automation/adapters/leases/x.ts", 'import { audit } from "../../commands/audit/index";'],
  ["automation/x.ts", 'import { program } from "../program";'],
];
const ALLOWED: [string, string][] = [
  ["cli/x.ts", 'import { ciRun } from "../automation/commands/run";'],
  ["automation/commands/x.ts", 'import { dockerClient } from "../adapters/docker";'],
  ["automation/adapters/x.ts", 'import { loadEnv } from "./env";'],
  ["automation/x.ts", 'import { CiRun } from "../components";'],
  ["components/x.ts", 'import { planRun } from "../lib/runPlan";'],
  ["lib/recipe/x.ts", 'import { LABELS } from "../naming";'],
  ["program.ts", 'import { CiRun } from "./components";'],
  ["automation/commands/audit/x.ts", 'import type { AuditReport } from "./index";'],
];

/**
 * The project's own eslint config (as `npm run lint` uses it) on each snippet as if it were that
 * file. One Node process for all (ESLint's API is ESM and loads the config dynamically, which jest's
 * module system cannot).
 */
function lintAll(cases: [string, string][]): string[][] {
  const script = `
    const { ESLint } = require("eslint");
    (async () => {
      // The snippets are files no project has: the type-aware rules (which need one) are off here.
      const eslint = new ESLint({
        cwd: process.cwd(),
        overrideConfig: {
          files: ["**/*.ts"],
          languageOptions: { parserOptions: { projectService: false } },
          rules: {
            "@typescript-eslint/no-floating-promises": "off",
            "@typescript-eslint/no-misused-promises": "off",
          },
        },
      });
      const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
      const out = [];
      for (const [file, code] of cases) {
        const [r] = await eslint.lintText(code, { filePath: require("path").resolve(file) });
        out.push(r.messages.filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message));
      }
      process.stdout.write(JSON.stringify(out));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ["-e", script], {
    cwd: ROOT,
    input: JSON.stringify(cases),
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`eslint failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[][];
}

describe("import layers", () => {
  const results = new Map<string, string[]>();
  beforeAll(() => {
    const cases = [...UPWARD, ...ALLOWED];
    lintAll(cases).forEach((messages, i) => results.set(cases[i].join(" "), messages));
  });

  test.each(UPWARD)("%s may not import upward: %s", (file, code) => {
    expect(results.get(`${file} ${code}`)).toEqual([
      expect.stringMatching(/layers point one way|an adapter may not import commands\//),
    ]);
  });

  test.each(ALLOWED)("%s may import its own layer and below: %s", (file, code) => {
    expect(results.get(`${file} ${code}`)).toEqual([]);
  });
});
