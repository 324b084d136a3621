/**
 * Units, one parser each: byte sizes as Docker reads them, durations as Go (and so Docker, Compose
 * and the docker provider) writes them, and the URLs of hosts behind the CI's proxy. Everything that
 * reads a size or a duration — the stack config, recipes, the CLI — goes through these.
 */

const BYTE_UNITS: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/** Docker's RAMInBytes grammar (docker/go-units): a number, an optional unit, optional `i` and `b`. */
export const BYTE_SIZE = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i;

/** Bytes for people: 1.5 GiB, 12.0 MiB ("?" when unknown). */
export function humanBytes(b?: number): string {
  if (b === undefined) return "?";
  return b >= 1024 ** 3 ? `${(b / 1024 ** 3).toFixed(1)} GiB` : `${(b / 1024 ** 2).toFixed(1)} MiB`;
}

/** `512m`, `1.5g`, `1GiB`, `100b`, `1024` or a number of bytes → bytes (units of 1024, as Docker's). */
export function bytes(size: string | number): number {
  if (typeof size === "number") {
    if (!Number.isFinite(size) || size < 0) throw new Error(`invalid size ${size}`);
    return Math.round(size);
  }
  const m = BYTE_SIZE.exec(size.trim());
  if (!m) throw new Error(`invalid size "${size}" (use e.g. 512m, 2g or a number of bytes)`);
  return Math.round(Number(m[1]) * BYTE_UNITS[(m[2] ?? "").toLowerCase()]);
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
  d: 24 * 3600e9,
};
const GO_DURATION = /^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/;
const WITH_DAYS = /^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h|d))+$/;

/**
 * A duration in nanoseconds. Go's syntax (`1m30s`, `250ms`); a bare integer is nanoseconds, as
 * Compose reads it. `days` also accepts `d` (for operators' `--max-age 2d`; Go has no such unit).
 */
export function durationNs(text: string, opts: { days?: boolean } = {}): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (!(opts.days ? WITH_DAYS : GO_DURATION).test(t))
    throw new Error(`invalid duration "${text}" (use e.g. 30s, 1m30s${opts.days ? ", 6h or 2d" : ""})`);
  let ns = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g))
    ns += Number(m[1]) * DURATION_UNITS[m[2]];
  return Math.round(ns);
}

/** A duration in milliseconds (see durationNs). */
export function durationMs(text: string, opts: { days?: boolean } = {}): number {
  return Math.round(durationNs(text, opts) / 1e6);
}

/** True when `text` is a duration Go (and so Docker) accepts. */
export function isGoDuration(text: string): boolean {
  return /^\d+$/.test(text) || GO_DURATION.test(text);
}

/**
 * A duration in Go's canonical spelling (time.Duration.String with trailing zero units cut, as the
 * docker provider stores it: 300s → 5m, 90s → 1m30s, 1h0m0s → 1h). Inputs in any other spelling
 * would show a diff on every update, so a second `pulumi up` would not be a no-op.
 */
export function goDuration(text: string | number): string {
  const ns = typeof text === "number" ? Math.round(text * 1e9) : durationNs(text);
  if (ns === 0) return "0s";
  if (ns < 1e9) {
    if (ns < 1e3) return `${ns}ns`;
    if (ns < 1e6) return `${trim(ns / 1e3)}µs`;
    return `${trim(ns / 1e6)}ms`;
  }
  const h = Math.floor(ns / 3600e9);
  const m = Math.floor((ns % 3600e9) / 60e9);
  const s = (ns % 60e9) / 1e9;
  let out = h > 0 ? `${h}h${m}m${trim(s)}s` : m > 0 ? `${m}m${trim(s)}s` : `${trim(s)}s`;
  if (out.endsWith("m0s")) out = out.slice(0, -2);
  if (out.endsWith("h0m")) out = out.slice(0, -2);
  return out;
}

function trim(n: number): string {
  return String(Number(n.toFixed(9)));
}

/** goDuration, passing undefined through. */
export function optDuration(text: string | undefined): string | undefined {
  return text === undefined ? undefined : goDuration(text);
}

/** The URL of a host on the CI's proxy, with the port when it is not the scheme's default. */
export function publicUrl(
  scheme: "http" | "https",
  host: string,
  httpPort: number,
  httpsPort: number,
): string {
  const port = scheme === "https" ? httpsPort : httpPort;
  const dflt = scheme === "https" ? 443 : 80;
  return `${scheme}://${host}${port === dflt ? "" : `:${port}`}`;
}
