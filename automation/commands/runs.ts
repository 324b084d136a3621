/**
 * `cc-ci runs`: the recent runs of this home — outcome, duration, recipe, PR and ref, and where their
 * report and page are — read from `$CC_CI_HOME/runs/<run id>/report.json`; `--html` writes an index
 * page beside them linking every run's page (what an operator opens to see the CI host's day). A
 * report that cannot be read is listed as such, never skipped in silence.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { xmlText } from "./run/junit";
import type { RunReport } from "./run/report";

export interface RunEntry {
  runId: string;
  recipe?: string;
  outcome?: RunReport["outcome"];
  exitCode?: number;
  startedAt?: string;
  durationMs?: number;
  pr?: number;
  ref?: string;
  report: string;
  page?: string;
  /** Why the report could not be read. */
  problem?: string;
}

/** The runs under `dir` (`$CC_CI_HOME/runs`), newest first, at most `limit`. */
export function listRuns(dir: string, limit = 20): RunEntry[] {
  if (!existsSync(dir)) return [];
  const entries: RunEntry[] = [];
  for (const id of readdirSync(dir)) {
    const report = path.join(dir, id, "report.json");
    if (!existsSync(report)) continue;
    const page = path.join(dir, id, "report.html");
    try {
      const r = JSON.parse(readFileSync(report, "utf8")) as RunReport;
      entries.push({
        runId: r.runId || id,
        recipe: r.recipe,
        outcome: r.outcome,
        exitCode: r.exitCode,
        startedAt: r.startedAt,
        durationMs: r.durationMs,
        pr: r.pr,
        ref: r.ref,
        report,
        ...(existsSync(page) ? { page } : {}),
      });
    } catch (e) {
      entries.push({
        runId: id,
        startedAt: statSync(report).mtime.toISOString(),
        report,
        problem: `unreadable report: ${(e as Error).message.split("\n")[0]}`,
      });
    }
  }
  return entries.sort((a, b) => String(b.startedAt).localeCompare(String(a.startedAt))).slice(0, limit);
}

export function runsTable(runs: RunEntry[]): string {
  if (runs.length === 0) return "no runs in this home yet";
  const rows = runs.map((r) => [
    r.startedAt?.replace("T", " ").slice(0, 19) ?? "",
    r.problem ? "?" : `${r.outcome} (${r.exitCode})`,
    r.durationMs !== undefined ? `${(r.durationMs / 1000).toFixed(1)} s` : "",
    r.recipe ?? "",
    r.pr !== undefined ? `#${r.pr}` : "",
    r.ref?.slice(0, 12) ?? "",
    r.problem ?? r.page ?? r.report,
  ]);
  const head = ["started", "outcome", "took", "recipe", "PR", "ref", "page"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** An index page of the runs, each linking its page (relative links: the folder can move). */
export function runsIndex(runs: RunEntry[], dir: string): string {
  const h = xmlText;
  const rows = runs
    .map((r) => {
      const link = r.page ? path.relative(dir, r.page) : path.relative(dir, r.report);
      return `<tr class="${h(r.outcome ?? "unknown")}"><td>${h(r.startedAt ?? "")}</td><td><a href="${h(link)}">${h(r.runId)}</a></td><td>${h(r.recipe ?? "")}</td><td>${h(r.problem ?? `${r.outcome} (${r.exitCode})`)}</td><td>${r.durationMs !== undefined ? (r.durationMs / 1000).toFixed(1) : ""}</td><td>${r.pr !== undefined ? `#${r.pr}` : ""}</td><td>${h(r.ref?.slice(0, 12) ?? "")}</td></tr>`;
    })
    .join("\n");
  return [
    "<!DOCTYPE html>",
    '<html xmlns="http://www.w3.org/1999/xhtml" lang="en">',
    '<head><meta charset="utf-8"/><title>cc-ci runs</title><style>body{font:14px system-ui,sans-serif;margin:2em} td,th{padding:.2em .8em;text-align:left;border-bottom:1px solid #ddd} .passed td:nth-child(4){color:#2a7d2a} .failed td:nth-child(4),.setup-failed td:nth-child(4),.teardown-failed td:nth-child(4){color:#b3261e}</style></head>',
    `<body><h1>cc-ci runs</h1><table><tr><th>started</th><th>run</th><th>recipe</th><th>outcome</th><th>s</th><th>PR</th><th>ref</th></tr>`,
    rows,
    "</table></body></html>",
    "",
  ].join("\n");
}

/** Writes the index page into `dir`; returns its path. */
export function writeRunsIndex(runs: RunEntry[], dir: string): string {
  const file = path.join(dir, "index.html");
  writeFileSync(file, runsIndex(runs, dir));
  return file;
}
