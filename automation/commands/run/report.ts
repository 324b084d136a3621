/** The run report: each phase's start, duration and outcome, as JSON and as a one-screen summary. */
export type PhaseOutcome = "ok" | "failed" | "skipped";

export interface Phase {
  name: string;
  start: string;
  durationMs: number;
  outcome: PhaseOutcome;
  error?: string;
}

export interface RunReport {
  runId: string;
  recipe: string;
  stack: string;
  /** The pull request and commit the run tested (`--pr`, `--ref`). */
  pr?: number;
  ref?: string;
  /** The recipe's variant the run tested; none: the recipe as it comes. */
  variant?: string;
  /** Run on the fast path (--quick). */
  quick?: boolean;
  /** An upgrade test: the base it upgraded from and the upgrade's diff as Pulumi previewed it (by operation). */
  upgrade?: { from: string; diff: Record<string, string[]> };
  mode?: "warm" | "cold" | "off";
  /** Where each declared dependency (.cc-ci/deps.yml) came from, by its name. */
  deps?: Record<string, string>;
  /** On the warm Keycloak: whether the run's realm was claimed from the pool or created. */
  realmFrom?: "pool" | "created";
  domain?: string;
  appUrl?: string;
  /** The warm proxy's slot network the run had to itself. */
  slot?: string;
  /** The agent that ran it (CC_CI_AGENT, else the host name). */
  agent?: string;
  startedAt: string;
  durationMs: number;
  outcome: "passed" | "failed" | "setup-failed" | "teardown-failed" | "interrupted" | "invalid";
  exitCode: number;
  testExitCode?: number;
  phases: Phase[];
  /** When each of the recipe's services had converged, in milliseconds after the run started. */
  services?: { service: string; upAfterMs?: number }[];
  residue: {
    docker: { kind: string; name: string; node?: string }[];
    realm?: string;
    /** The run's units still on warm dependencies (`postgres <database>`). */
    units?: string[];
    stack?: boolean;
    /** Swarm nodes that could not be checked (down, engine not answering): what is there is unknown. */
    unchecked?: string[];
  };
  warnings: string[];
  error?: string;
  /** What the run kept for people to read (run/artifacts.ts): the folder, its files, what is missing. */
  artifacts?: { dir: string; files: string[]; problems: string[] };
  /** The JUnit XML written (`--junit`). */
  junit?: string;
}

export class PhaseClock {
  readonly phases: Phase[] = [];

  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const phase: Phase = { name, start: new Date(started).toISOString(), durationMs: 0, outcome: "ok" };
    this.phases.push(phase);
    try {
      return await fn();
    } catch (e) {
      phase.outcome = "failed";
      phase.error = (e as Error).message;
      throw e;
    } finally {
      phase.durationMs = Date.now() - started;
    }
  }

  /** A phase that did not run; `replace` turns the last phase (of the same name, just run) into it. */
  skip(name: string, why: string, replace = false): void {
    if (replace && this.phases[this.phases.length - 1]?.name === name) this.phases.pop();
    this.phases.push({
      name,
      start: new Date().toISOString(),
      durationMs: 0,
      outcome: "skipped",
      error: why,
    });
  }
}

export function summary(r: RunReport): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = [
    `cc-ci run ${r.runId} (${r.recipe}${r.variant ? `, variant ${r.variant}` : ""}): ${r.outcome.toUpperCase()}, exit ${r.exitCode}, ${s(r.durationMs)}`,
    `  stack ${r.stack}${r.mode ? `, SSO ${r.mode}` : ""}${Object.entries(r.deps ?? {})
      .map(([n, m]) => `, ${n} ${m}`)
      .join("")}${r.appUrl ? `, app ${r.appUrl}` : ""}`,
    ...r.phases.map(
      (p) =>
        `  ${p.outcome === "ok" ? "✓" : p.outcome === "skipped" ? "-" : "✗"} ${p.name.padEnd(12)} ${s(p.durationMs).padStart(8)}${p.error ? `  ${p.error.split("\n")[0]}` : ""}`,
    ),
  ];
  const left = describeLeft(r.residue);
  lines.push(left === "" ? "  residue: none" : `  residue: ${left}`);
  if (r.error) lines.push(`  error: ${r.error.split("\n").slice(0, 8).join("\n         ")}`);
  return lines.join("\n");
}

/** What a run left, in one line ("" when nothing). */
export function describeLeft(r: RunReport["residue"]): string {
  return [
    ...r.docker.map((d) => `${d.kind} ${d.name}${d.node ? ` on ${d.node}` : ""}`),
    ...(r.realm ? [`realm ${r.realm}`] : []),
    ...(r.units ?? []).map((u) => `unit ${u}`),
    ...(r.stack ? ["stack"] : []),
  ].join(", ");
}
