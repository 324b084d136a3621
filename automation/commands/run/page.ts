/**
 * The run page: a self-contained `report.html` beside `report.json` — the outcome, a timeline of the
 * phases, the error, the warnings, then the logs with the failing service first, and the test's
 * output. No script, no outside resource; every byte of the recipe's (logs, output) escaped. Written
 * as well-formed XHTML, so an XML parser checks it in the unit tests and a browser in the e2e suite.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { xmlText } from "./junit";
import type { RunReport } from "./report";

/** Lines of each log shown on the page (the artifacts keep more). */
export const PAGE_LOG_LINES = 200;

/** Text as (X)HTML character data (the JUnit file's escaping: the same five entities). */
const html = xmlText;

export interface PageLog {
  service: string;
  lines: string[];
  /** A task of it ended (failed, rejected, exited where it should run). */
  failing: boolean;
}

/** The logs the artifacts hold, the failing services first, each cut to its last PAGE_LOG_LINES lines. */
export function pageLogs(report: RunReport): PageLog[] {
  const a = report.artifacts;
  if (!a) return [];
  let tasks: { service: string; state?: string; desired?: string; exitCode?: number }[] = [];
  try {
    tasks = JSON.parse(readFileSync(path.join(a.dir, "tasks.json"), "utf8")) as typeof tasks;
  } catch {
    // no task history: the order stays by name
  }
  const failing = new Set(
    tasks
      .filter((t) => t.state === "failed" || t.state === "rejected" || (t.exitCode ?? 0) !== 0)
      .map((t) => t.service),
  );
  return a.files
    .filter((f) => f.startsWith("services/") && f.endsWith(".log"))
    .map((f) => {
      const service = path.basename(f, ".log");
      const file = path.join(a.dir, f);
      const lines = existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
      return { service, lines: lines.slice(-PAGE_LOG_LINES), failing: failing.has(service) };
    })
    .sort((x, y) => Number(y.failing) - Number(x.failing) || x.service.localeCompare(y.service));
}

/** At most this many images of the tests' artifacts inline, each at most IMAGE_MAX_BYTES. */
export const PAGE_IMAGES = 6;
export const IMAGE_MAX_BYTES = 2 * 1024 * 1024;

/** The tests' screenshots (PNG, JPEG) as data: URIs, their type checked by their first bytes. */
export function pageImages(report: RunReport): { name: string; src: string }[] {
  const a = report.artifacts;
  if (!a) return [];
  const out: { name: string; src: string }[] = [];
  for (const f of a.files.filter((x) => x.startsWith("test/") && /\.(png|jpe?g)$/i.test(x))) {
    if (out.length >= PAGE_IMAGES) break;
    const file = path.join(a.dir, f);
    if (!existsSync(file) || statSync(file).size > IMAGE_MAX_BYTES) continue;
    const data = readFileSync(file);
    const type = data.subarray(0, 8).equals(PNG)
      ? "image/png"
      : data[0] === 0xff && data[1] === 0xd8
        ? "image/jpeg"
        : undefined;
    if (type)
      out.push({ name: f.slice("test/".length), src: `data:${type};base64,${data.toString("base64")}` });
  }
  return out;
}

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em}
.outcome{display:inline-block;padding:.1em .6em;border-radius:.3em;color:#fff;font-weight:bold}
.passed{background:#2a7d2a} .failed,.setup-failed,.teardown-failed,.invalid,.interrupted{background:#b3261e}
table{border-collapse:collapse} td,th{padding:.2em .8em;text-align:left;border-bottom:1px solid #ddd;vertical-align:top}
.timeline td:nth-child(-n+3){white-space:nowrap} .phase-failed .state{color:#b3261e;font-weight:bold} .phase-skipped .state{color:#888}
.bar{background:#7aa7d8;height:.8em;display:inline-block;min-width:1px}
.phase-failed .bar{background:#b3261e} .phase-skipped .bar{background:#bbb}
pre{background:#f6f6f6;padding:.8em;overflow:auto;white-space:pre-wrap;word-break:break-all}
.failing h3{color:#b3261e} figure img{max-width:100%;border:1px solid #ccc}
`;

/** The run's facts: recipe, run, start, duration, exit status, app, SSO and dependencies. */
function factsTable(report: RunReport): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return [
    ["recipe", report.recipe],
    ["run", report.runId],
    ["started", report.startedAt],
    ["duration", s(report.durationMs)],
    ["exit", String(report.exitCode)],
    ...(report.appUrl ? [["app", report.appUrl]] : []),
    ...(report.mode ? [["SSO", report.mode]] : []),
    ...Object.entries(report.deps ?? {}).map(([n, m]) => [`dependency ${n}`, m]),
  ]
    .map(([k, v]) => `<tr><th>${html(k)}</th><td>${html(v)}</td></tr>`)
    .join("\n");
}

/** The page for one run (its artifacts read from where the report says they are). */
export function runPage(report: RunReport): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const longest = Math.max(1, ...report.phases.map((p) => p.durationMs));
  const rows = report.phases
    .map(
      (p) =>
        `<tr class="phase-${p.outcome}"><td class="state">${p.outcome}</td><td>${html(p.name)}</td><td>${s(p.durationMs)}</td><td><span class="bar" style="width:${Math.round((p.durationMs / longest) * 20)}em"></span></td><td>${html((p.error ?? "").split("\n")[0])}</td></tr>`,
    )
    .join("\n");
  // Each service's convergence, under the phases: when it was up, from the run's start.
  const ups = (report.services ?? [])
    .map(
      (u) =>
        `<tr class="service"><td class="state">${u.upAfterMs === undefined ? "" : "up"}</td><td>${html(u.service)}</td><td>${u.upAfterMs === undefined ? "" : `+${s(u.upAfterMs)}`}</td><td></td><td></td></tr>`,
    )
    .join("\n");
  const logs = pageLogs(report)
    .map(
      (l) =>
        `<section class="log${l.failing ? " failing" : ""}"><h3>${html(l.service)}${l.failing ? " — a task of it failed" : ""}</h3><pre>${html(l.lines.join("\n")) || "(nothing logged)"}</pre></section>`,
    )
    .join("\n");
  const shots = pageImages(report)
    .map(
      (i) =>
        `<figure><img src="${i.src}" alt="${html(i.name)}"/><figcaption>${html(i.name)}</figcaption></figure>`,
    )
    .join("\n");
  const testLog = report.artifacts?.files.includes("test.log")
    ? readFileSync(path.join(report.artifacts.dir, "test.log"), "utf8")
        .split("\n")
        .slice(-PAGE_LOG_LINES)
        .join("\n")
    : undefined;
  const facts = factsTable(report);
  return [
    "<!DOCTYPE html>",
    '<html xmlns="http://www.w3.org/1999/xhtml" lang="en">',
    `<head><meta charset="utf-8"/><title>${html(`${report.recipe} ${report.runId}: ${report.outcome}`)}</title><style>${STYLE}</style></head>`,
    "<body>",
    `<h1>${html(report.recipe)} <small>${html(report.runId)}</small> <span class="outcome ${html(report.outcome)}">${html(report.outcome)}</span></h1>`,
    `<table class="facts">${facts}</table>`,
    report.error ? `<h2>Why</h2><pre class="error">${html(report.error)}</pre>` : "",
    `<h2>Timeline</h2><table class="timeline">${rows}</table>`,
    ups ? `<h3>Services converged</h3><table class="timeline services">${ups}</table>` : "",
    report.warnings.length > 0
      ? `<h2>Warnings</h2><ul>${report.warnings.map((w) => `<li>${html(w)}</li>`).join("")}</ul>`
      : "",
    shots ? `<h2>Screenshots</h2>${shots}` : "",
    logs ? `<h2>Service logs</h2>${logs}` : "",
    testLog !== undefined ? `<h2>Test output</h2><pre class="test">${html(testLog)}</pre>` : "",
    "</body>",
    "</html>",
    "",
  ]
    .filter((l) => l !== "")
    .join("\n");
}
