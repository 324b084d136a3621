/** What the bench's parts share: the example's healthcheck, and figures as median and range. */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import type { RunReport } from "../automation/commands/run/report";

export const secs = (ms: number) => Math.round(ms) / 1000;

/** examples/web's healthcheck, in the Docker API's shape (the floor's service is the same service). */
export const WEB_HEALTHCHECK = (() => {
  const compose = parse(
    readFileSync(path.join(__dirname, "..", "examples", "web", "compose.yml"), "utf8"),
  ) as {
    services: {
      app: {
        healthcheck: {
          test: string[];
          interval: string;
          timeout: string;
          retries: number;
          start_period: string;
        };
      };
    };
  };
  const hc = compose.services.app.healthcheck;
  const ns = (d: string) => Number(/^(\d+)s$/.exec(d)?.[1] ?? NaN) * 1e9;
  // Compose's `$$` is a literal `$`.
  return {
    Test: hc.test.map((t) => t.replace(/\$\$/g, "$")),
    Interval: ns(hc.interval),
    Timeout: ns(hc.timeout),
    Retries: hc.retries,
    StartPeriod: ns(hc.start_period),
  };
})();

export function stats(xs: number[]): { med: number; lo: number; hi: number; text: string } {
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  const f = (ms: number) => (ms / 1000).toFixed(2);
  return {
    med,
    lo: s[0],
    hi: s[s.length - 1],
    text: `${f(med)} s (${f(s[0])}–${f(s[s.length - 1])}, n=${s.length})`,
  };
}

export function requireOk(r: RunReport): RunReport {
  if (r.outcome !== "passed") throw new Error(`run ${r.runId} ${r.outcome}: ${r.error ?? ""}`);
  return r;
}
