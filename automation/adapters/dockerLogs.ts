/**
 * A swarm service's logs through the Docker API, bounded: what a recipe's app prints is untrusted, so
 * lines are cut, their number capped and control characters (a terminal's escape sequences) shown
 * as `?` before anything of it reaches a report or an operator's terminal.
 */
import type Docker from "dockerode";

/** The longest line kept, in characters. */
export const LOG_LINE_MAX = 400;

/**
 * The text of a log answer. Without a TTY Docker multiplexes stdout and stderr in frames of an 8-byte
 * header (stream 0/1/2, three zero bytes, the payload's length big-endian) and the payload; with
 * one, the answer is the raw text. A frame cut short keeps what arrived.
 */
export function demuxLogs(buf: Buffer): string {
  const framed = buf.length >= 8 && buf[0] <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
  if (!framed) return buf.toString("utf8");
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const size = buf.readUInt32BE(at + 4);
    parts.push(buf.subarray(at + 8, Math.min(at + 8 + size, buf.length)));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString("utf8");
}

/** Control characters (C0, DEL, C1: a terminal's escape sequences) as `?`; tabs kept. */
function showControls(line: string): string {
  let out = "";
  for (const ch of line) {
    const c = ch.codePointAt(0) as number;
    out += (c < 0x20 && c !== 0x09) || (c >= 0x7f && c <= 0x9f) ? "?" : ch;
  }
  return out;
}

/** Lines as they may be shown: control characters as `?`, each cut at LOG_LINE_MAX, empty ones gone. */
export function safeLines(text: string, max: number): string[] {
  return text
    .split("\n")
    .map((l) => showControls(l.replace(/\r$/, "")))
    .map((l) =>
      l.length > LOG_LINE_MAX
        ? `${l.slice(0, LOG_LINE_MAX)} … (${l.length - LOG_LINE_MAX} more characters)`
        : l,
    )
    .filter((l) => l.trim() !== "")
    .slice(-max);
}

/**
 * `2026-12-07T10:00:01.123456789Z text` lines (Docker's timestamps) in time order — a service's
 * tasks answer one after the other, not interleaved — each as `10:00:01.123 text`.
 */
export function byTime(lines: string[]): string[] {
  const stamped = lines.map((l) => {
    const m = /^(\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d)(\.\d{1,3})?\d*Z) (.*)$/.exec(l);
    return m
      ? { at: Date.parse(m[1]), text: `${m[2]}${(m[3] ?? ".000").padEnd(4, "0")} ${m[4]}` }
      : { at: 0, text: l };
  });
  return stamped.sort((a, b) => a.at - b.at).map((x) => x.text);
}

/** The last `lines` lines a service's tasks printed (every task of it, stdout and stderr), oldest first. */
export async function serviceLogTail(docker: Docker, serviceId: string, lines: number): Promise<string[]> {
  const raw = (await docker.getService(serviceId).logs({
    stdout: true,
    stderr: true,
    tail: lines,
    timestamps: true,
    follow: false,
  } as never)) as unknown as Buffer | string;
  return byTime(safeLines(typeof raw === "string" ? raw : demuxLogs(raw), Infinity)).slice(-lines);
}
