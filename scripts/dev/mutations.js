#!/usr/bin/env node
// Applies each of the mutations below to the sources, one at a time, runs the unit tests, and says
// whether they caught it (a mutation the tests miss is a behaviour no test pins). The sources are
// restored after each, whatever happens. `node scripts/dev/mutations.js [--all]`: by default the unit
// files that pin these behaviours; --all runs the whole unit suite for each.
"use strict";
const { execFileSync } = require("node:child_process");
const { readFileSync, writeFileSync } = require("node:fs");
const path = require("node:path");

const ROOT = path.join(__dirname, "..", "..");
const MUTATIONS = [
  ["setup-failed exit 80 → 1", "automation/commands/run/outcome.ts", "setup: 80", "setup: 1"],
  [
    "a failed verify not mapped to 81",
    "automation/commands/run/outcome.ts",
    '["destroy", "stack-remove", "verify"]',
    '["destroy", "stack-remove"]',
  ],
  ["realm names allowed 37 characters", "lib/naming.ts", "REALM_MAX = 36", "REALM_MAX = 37"],
  [
    "swarm names truncated without their hash",
    "lib/naming.ts",
    "return `${prefix}_${name.slice(0, room)}-${hash}`;",
    "return full.slice(0, max);",
  ],
  [
    "CI_HOSTS with only the first host",
    "automation/commands/run/tests.ts",
    "flatMap((r) => r.hosts)",
    "flatMap((r) => r.hosts.slice(0, 1))",
  ],
  [
    "the https port in CI_CURL_RESOLVE",
    "automation/commands/run/tests.ts",
    'proxy.scheme === "https" ? proxy.httpsPort : proxy.httpPort',
    "proxy.httpPort",
  ],
  [
    "the sandbox's default pids 512 → 4096",
    "lib/runSettings.ts",
    "pids: z.number().int().positive().default(512)",
    "pids: z.number().int().positive().default(4096)",
  ],
  ["its default deadline 900 → 9000 s", "lib/runSettings.ts", ".default(900)", ".default(9000)"],
  [
    "default maxReplicas 3 → 30",
    "lib/runSettings.ts",
    '.default(3)\n    .describe("Most replicas a recipe',
    '.default(30)\n    .describe("Most replicas a recipe',
  ],
  [
    "the warm Keycloak settings stored in plain text in the run stack",
    "lib/config.ts",
    'new Set(["warmKeycloak"])',
    "new Set<string>([])",
  ],
  [
    "the sandbox's /tmp tmpfs exec and 8 GB",
    "automation/commands/run/sandbox.ts",
    '"/tmp": "rw,nosuid,nodev,size=256m"',
    '"/tmp": "rw,exec,nosuid,nodev,size=8g"',
  ],
  [
    "the residue grace compared with > instead of >=",
    "automation/commands/audit/judge.ts",
    "o.ageMs >= l.graceMs",
    "o.ageMs > l.graceMs",
  ],
  [
    "a stack of unknown age with a dead lock never judged stale",
    "automation/commands/audit/judge.ts",
    "const young = f.ageMs !== undefined && f.ageMs < l.graceMs;",
    "const young = f.ageMs === undefined || f.ageMs < l.graceMs;",
  ],
];
const FILES = "test/unit/(pinned|outcome|naming|runPlan|sandbox|audit|config|run)\\.test";

const all = process.argv.includes("--all");
const unitTests = () =>
  execFileSync(
    path.join(ROOT, "node_modules", ".bin", "jest"),
    ["--selectProjects", "unit", ...(all ? [] : ["--testPathPatterns", FILES]), "--silent"],
    { cwd: ROOT, stdio: "ignore" },
  );
// Unmutated, the tests must pass: otherwise every mutation would look caught.
try {
  unitTests();
} catch {
  console.log(
    "the unit tests fail on the unmutated sources (is the compose helper built?): nothing to judge",
  );
  process.exit(2);
}
let missed = 0;
for (const [what, rel, from, to] of MUTATIONS) {
  const file = path.join(ROOT, rel);
  const original = readFileSync(file, "utf8");
  if (!original.includes(from)) {
    console.log(`?  ${what}: "${from}" is not in ${rel} any more (update this list)`);
    missed++;
    continue;
  }
  writeFileSync(file, original.replace(from, to));
  let caught;
  try {
    unitTests();
    caught = false;
  } catch {
    caught = true;
  } finally {
    writeFileSync(file, original);
  }
  if (!caught) missed++;
  console.log(`${caught ? "caught" : "MISSED"}  ${what}`);
}
console.log(`${MUTATIONS.length - missed} of ${MUTATIONS.length} mutations caught`);
process.exit(missed === 0 ? 0 : 1);
