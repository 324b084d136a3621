/**
 * SIGINT/SIGTERM during a run: the first aborts what is running and lets teardown happen; a second
 * does not abandon the teardown (it must finish, or the run leaves residue).
 */
export interface SignalWatch {
  readonly abort: AbortController;
  /** How many signals arrived. */
  count(): number;
  /** Removes the process handlers (the run is over). */
  detach(): void;
}

export function watchSignals(
  say: (line: string) => void,
  opts: { handleSignals?: boolean; signal?: AbortSignal },
): SignalWatch {
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      say(`${sig}: stopping and tearing down`);
      abort.abort();
    } else say(`${sig} again: teardown continues (it must, or the run leaves residue)`);
  };
  const handle = opts.handleSignals ?? true;
  if (handle) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  opts.signal?.addEventListener("abort", () => onSignal("SIGTERM"), { once: true });
  return {
    abort,
    count: () => signals,
    detach() {
      if (!handle) return;
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
