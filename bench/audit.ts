/**
 * Audit time over N live run stacks (default 20): keeps N runs of a one-service recipe up (on the warm
 * layer, SSO off), times `cc-ci audit` (report only, no drift check) several times side by side, then
 * reaps them all. Prints median and range; a script that prints figures, not a timed test.
 *
 *   npm run bench:audit -- [N] [repetitions]
 */
import * as path from "node:path";
import { audit } from "../automation/audit";
import { loadEnv } from "../automation/env";
import { ciRun } from "../automation/run";

const N = Number(process.argv[2] ?? 20);
const REPS = Number(process.argv[3] ?? 5);
const env = loadEnv();
const recipe = path.join(__dirname, "..", "examples", "web");

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return `median ${(med / 1000).toFixed(2)} s, range ${(s[0] / 1000).toFixed(2)}–${(s[s.length - 1] / 1000).toFixed(2)} s (n=${s.length})`;
}

async function main(): Promise<void> {
  const quiet = () => undefined;
  const t0 = Date.now();
  const kept: string[] = [];
  for (let i = 0; i < N; i += 4) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(4, N - i) }, () =>
        ciRun(
          {
            recipeDir: recipe,
            sso: "off",
            testCommand: ["false"],
            keepOnFailure: true,
            handleSignals: false,
            log: quiet,
          },
          env,
        ),
      ),
    );
    kept.push(...batch.map((r) => r.runId));
    process.stderr.write(`${kept.length}/${N} run stacks up\n`);
  }
  process.stderr.write(`setup: ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  const times: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const r = await audit(env, { drift: false });
    times.push(r.durationMs);
    if (r.stacks.length < N)
      throw new Error(`audit saw ${r.stacks.length} run stacks, expected at least ${N}`);
  }
  const reap = await audit(env, { drift: false, reap: true, maxAgeMs: 1 });
  const reapedCount = reap.stacks.filter((s) => s.reaped).length;
  process.stdout.write(`audit over ${N} run stacks (report only): ${stats(times)}\n`);
  process.stdout.write(`reap of ${reapedCount} stacks: ${(reap.durationMs / 1000).toFixed(1)} s\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
