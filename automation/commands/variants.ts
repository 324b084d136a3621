/**
 * `cc-ci run --all-variants`: the recipe as it comes and every variant it offers
 * (`.cc-ci/variants/<name>.env`), each a whole run of its own (its stack, realm, units, report and
 * artifacts), `parallel` at a time. The exit status is the first failing run's, in the order the
 * variants are listed; `--junit FILE` holds one test suite per variant.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { RecipeFiles } from "../../lib/recipe/files";
import { listVariants } from "../../lib/recipe/variants";
import { ciRun, type RunArgs } from "./run";
import { mergeJunit } from "./run/junit";
import type { RunReport } from "./run/report";

export interface VariantsResult {
  /** Each run's report, in the variants' order (the recipe as it comes first). */
  reports: RunReport[];
  exitCode: number;
  /** Why nothing ran (the variants could not be listed). */
  problems: string[];
}

/** Runs `items` through `fn`, `limit` at a time, results in their order. */
async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

export async function runAllVariants(base: RunArgs, parallel: number): Promise<VariantsResult> {
  const listed = listVariants(new RecipeFiles(path.resolve(base.recipeDir)));
  if (listed.problems.length > 0) return { reports: [], exitCode: 2, problems: listed.problems };
  const junitDir = base.junitFile ? mkdtempSync(path.join(tmpdir(), "cc-ci-junit-")) : undefined;
  try {
    const variants: (string | undefined)[] = [undefined, ...listed.names];
    const reports = await pool(variants, parallel, (variant) =>
      ciRun({
        ...base,
        variant,
        // Each run keeps its own: a report beside its page, artifacts under --artifacts/<variant>.
        reportFile: undefined,
        artifactsDir: base.artifactsDir && path.join(base.artifactsDir, variant ?? "default"),
        junitFile: junitDir && path.join(junitDir, `${variant ?? "default"}.xml`),
      }),
    );
    if (base.junitFile && junitDir) {
      const docs = reports.map((r) => (r.junit ? readFileSync(r.junit, "utf8") : ""));
      writeFileSync(base.junitFile, mergeJunit(docs));
      for (const r of reports) r.junit = base.junitFile;
    }
    const failed = reports.find((r) => r.exitCode !== 0);
    return { reports, exitCode: failed?.exitCode ?? 0, problems: [] };
  } finally {
    if (junitDir) rmSync(junitDir, { recursive: true, force: true });
  }
}
