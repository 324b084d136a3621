/**
 * What a CI host gets done: runs of the SSO example through an agent with K slots (a slot takes the
 * next run as soon as its run ends), runs per hour and the host's busy core-seconds per run, for
 * each K.
 */
import { cpus } from "node:os";
import type Docker from "dockerode";
import { cpuSplit } from "./cpu";

/** Runs `n` jobs with at most `k` at once, each slot taking the next job when its last one ends. */
async function pool(n: number, k: number, job: () => Promise<void>): Promise<void> {
  let next = 0;
  const slot = async () => {
    while (next < n) {
      next++;
      await job();
    }
  };
  await Promise.all(Array.from({ length: Math.min(k, n) }, slot));
}

/**
 * What a CI host gets done: RUNS runs of the SSO example through an agent with K slots (a slot
 * takes the next run as soon as its run ends), runs per hour and the host's busy core-seconds per
 * run, for each K.
 */
export async function throughput(
  RUNS: number,
  SLOTS: number[],
  o: {
    docker: Docker;
    classify: (containerName: string) => string;
    say: (l: string) => void;
    figures: Record<string, number | string | boolean>;
    run: () => Promise<void>;
  },
): Promise<void> {
  const { say, figures } = o;
  say(`\n### Throughput: ${RUNS} runs of examples/sso on the warm layer through an agent with K slots`);
  say("| slots (K) | wall time | runs per hour | host busy per run | busy ÷ (wall × cores) |");
  say("| --- | --- | --- | --- | --- |");
  const cores = cpus().length;
  for (const k of SLOTS) {
    const split = await cpuSplit(o.docker, o.classify, () => pool(RUNS, k, o.run));
    const perHour = (RUNS * 3600) / split.wallS;
    const perRun = split.hostS / RUNS;
    say(
      `| ${k} | ${split.wallS.toFixed(1)} s | ${perHour.toFixed(0)} | ${perRun.toFixed(1)} core-s | ${((100 * split.hostS) / (split.wallS * cores)).toFixed(0)} % |`,
    );
    Object.assign(figures, {
      [`throughput.k${k}.runs_per_hour`]: Math.round(perHour),
      [`throughput.k${k}.host_core_s_per_run`]: Math.round(perRun * 10) / 10,
      [`throughput.k${k}.wall_s`]: Math.round(split.wallS * 10) / 10,
    });
  }
}
