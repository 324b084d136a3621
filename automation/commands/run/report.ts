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
  mode?: "warm" | "cold" | "off";
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
  residue: {
    docker: { kind: string; name: string; node?: string }[];
    realm?: string;
    stack?: boolean;
    /** Swarm nodes that could not be checked (down, engine not answering): what is there is unknown. */
    unchecked?: string[];
  };
  warnings: string[];
  error?: string;
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
    `cc-ci run ${r.runId} (${r.recipe}): ${r.outcome.toUpperCase()}, exit ${r.exitCode}, ${s(r.durationMs)}`,
    `  stack ${r.stack}${r.mode ? `, SSO ${r.mode}` : ""}${r.appUrl ? `, app ${r.appUrl}` : ""}`,
    ...r.phases.map(
      (p) =>
        `  ${p.outcome === "ok" ? "✓" : p.outcome === "skipped" ? "-" : "✗"} ${p.name.padEnd(12)} ${s(p.durationMs).padStart(8)}${p.error ? `  ${p.error.split("\n")[0]}` : ""}`,
    ),
  ];
  const left = r.residue.docker.length + (r.residue.realm ? 1 : 0) + (r.residue.stack ? 1 : 0);
  lines.push(
    left === 0
      ? "  residue: none"
      : `  residue: ${[...r.residue.docker.map((d) => `${d.kind} ${d.name}`), ...(r.residue.realm ? [`realm ${r.residue.realm}`] : []), ...(r.residue.stack ? ["stack"] : [])].join(", ")}`,
  );
  if (r.error) lines.push(`  error: ${r.error.split("\n").slice(0, 8).join("\n         ")}`);
  return lines.join("\n");
}
