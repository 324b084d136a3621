/**
 * The run as JUnit XML, what every CI server displays (Woodpecker, Drone, GitLab, Forgejo Actions):
 * one test suite for the run, a test case per phase (a failed phase carries its reason; the test
 * phase also the tail of the test's output), and — when the test printed TAP (`ok 1 - …`,
 * `not ok 2 - …`) — a test case per TAP line. Secrets the run held are masked like its artifacts.
 */
import type { RunReport } from "./report";
import { mask } from "./artifacts";

/** Text as XML character data: the five entities escaped, characters XML cannot hold as `?`. */
export function xmlText(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    const legal =
      c === 0x9 ||
      c === 0xa ||
      c === 0xd ||
      (c >= 0x20 && c <= 0xd7ff) ||
      (c >= 0xe000 && c <= 0xfffd) ||
      c >= 0x10000;
    out += !legal
      ? "?"
      : ch === "&"
        ? "&amp;"
        : ch === "<"
          ? "&lt;"
          : ch === ">"
            ? "&gt;"
            : ch === '"'
              ? "&quot;"
              : ch === "'"
                ? "&apos;"
                : ch;
  }
  return out;
}

export interface TapResult {
  name: string;
  ok: boolean;
  skipped?: string;
  /** The lines under it (TAP's diagnostics, `# …`), up to the next result. */
  detail: string[];
}

/** TAP results in a test's output (`ok N - name`, `not ok N - name # SKIP why`); none when it printed none. */
export function parseTap(lines: string[]): TapResult[] {
  const out: TapResult[] = [];
  for (const line of lines) {
    const m = /^\s*(not )?ok\b(?:\s+(\d+))?\s*(?:-\s*)?(.*?)\s*(?:#\s*(SKIP|TODO)\b\s*(.*))?$/i.exec(line);
    if (m) {
      const name = m[3] || `test ${m[2] ?? out.length + 1}`;
      const directive = m[4]?.toUpperCase();
      out.push({
        name,
        // A TODO test's failure is expected (TAP): not a failure.
        ok: !m[1] || directive === "TODO",
        ...(directive === "SKIP" ? { skipped: m[5] || "skipped" } : {}),
        detail: [],
      });
    } else if (out.length > 0 && /^\s*#/.test(line)) out[out.length - 1].detail.push(line);
  }
  return out;
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);
const TAIL = 60;

export function junitXml(report: RunReport, testOutput: string[], secrets: string[]): string {
  const suite = `cc-ci ${report.recipe}${report.variant ? ` [${report.variant}]` : ""}`;
  // Test cases by class: CI servers read the dots of a class name as packages.
  const cls = (part: string) => `${report.recipe}${report.variant ? `.${report.variant}` : ""}.${part}`;
  const cases: string[] = [];
  let failures = 0;
  let skipped = 0;
  for (const p of report.phases) {
    const attrs = `classname="${xmlText(cls("phases"))}" name="${xmlText(p.name)}" time="${seconds(p.durationMs)}"`;
    if (p.outcome === "skipped") {
      skipped++;
      cases.push(
        `    <testcase ${attrs}>\n      <skipped message="${xmlText(p.error ?? "")}"/>\n    </testcase>`,
      );
    } else if (p.outcome === "failed") {
      failures++;
      const why = p.error ?? (p.name === "test" ? `the test exited ${report.testExitCode}` : "failed");
      const body = p.name === "test" ? [why, "", ...testOutput.slice(-TAIL)].join("\n") : why;
      cases.push(
        `    <testcase ${attrs}>\n      <failure message="${xmlText(why.split("\n")[0])}">${xmlText(body)}</failure>\n    </testcase>`,
      );
    } else cases.push(`    <testcase ${attrs}/>`);
  }
  for (const t of parseTap(testOutput)) {
    const attrs = `classname="${xmlText(cls("tests"))}" name="${xmlText(t.name)}"`;
    if (t.skipped !== undefined) {
      skipped++;
      cases.push(
        `    <testcase ${attrs}>\n      <skipped message="${xmlText(t.skipped)}"/>\n    </testcase>`,
      );
    } else if (!t.ok) {
      failures++;
      cases.push(
        `    <testcase ${attrs}>\n      <failure message="not ok">${xmlText(t.detail.join("\n"))}</failure>\n    </testcase>`,
      );
    } else cases.push(`    <testcase ${attrs}/>`);
  }
  const props = [
    ["run", report.runId],
    ["outcome", report.outcome],
    ["exitCode", String(report.exitCode)],
    ...(report.appUrl ? [["appUrl", report.appUrl]] : []),
  ]
    .map(([k, v]) => `      <property name="${k}" value="${xmlText(v)}"/>`)
    .join("\n");
  const err = report.error ? `    <system-err>${xmlText(report.error)}</system-err>` : "";
  const xml = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="cc-ci" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds(report.durationMs)}">`,
    `  <testsuite name="${xmlText(suite)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds(report.durationMs)}" timestamp="${report.startedAt}">`,
    `    <properties>\n${props}\n    </properties>`,
    ...cases,
    err,
    "  </testsuite>",
    "</testsuites>",
  ]
    .filter((l) => l !== "")
    .join("\n");
  return `${mask(xml, secrets.map(xmlText))}\n`;
}

/**
 * One JUnit document of several runs' (the variants of a recipe): each run's test suite, as its own
 * document has it, under one `<testsuites>` whose counts are their sums. Reads only documents
 * `junitXml` wrote.
 */
export function mergeJunit(docs: string[]): string {
  const suites = docs
    .map((d) => /^ {2}<testsuite [\s\S]*?^ {2}<\/testsuite>$/m.exec(d)?.[0] ?? "")
    .filter(Boolean);
  const sum = (attr: string) =>
    suites.reduce(
      (n, s) => n + Number(new RegExp(`^ {2}<testsuite [^>]*?\\b${attr}="([0-9.]+)"`).exec(s)?.[1] ?? 0),
      0,
    );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="cc-ci" tests="${sum("tests")}" failures="${sum("failures")}" errors="0" skipped="${sum("skipped")}" time="${sum("time").toFixed(3)}">`,
    ...suites,
    "</testsuites>",
    "",
  ].join("\n");
}
