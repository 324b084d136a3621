/** Small helpers the components share: label lists, resources and placement in the provider's shapes. */
import type * as docker from "@pulumi/docker";
import type { z } from "zod";
import type { Resources } from "../lib/config";
import { bytes } from "../lib/recipe/load";

export function labelList(labels: Record<string, string>): docker.types.input.ServiceLabel[] {
  return Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, value]) => ({ label, value }));
}

export function taskResources(
  r: z.output<typeof Resources>,
): docker.types.input.ServiceTaskSpecResources | undefined {
  const limits = {
    ...(r.memoryLimit !== undefined ? { memoryBytes: bytes(r.memoryLimit) } : {}),
    ...(r.cpuLimit !== undefined ? { nanoCpus: Math.round(r.cpuLimit * 1e9) } : {}),
  };
  const reservation =
    r.memoryReservation !== undefined ? { memoryBytes: bytes(r.memoryReservation) } : undefined;
  if (Object.keys(limits).length === 0 && !reservation) return undefined;
  return { limits: Object.keys(limits).length > 0 ? limits : undefined, reservation };
}

/** Swarm waits for tasks to be running — and, with a healthcheck, healthy — before `up` moves on. */
export const CONVERGE: docker.types.input.ServiceConvergeConfig = { delay: "2s", timeout: "10m" };

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

/**
 * A duration in the docker provider's canonical form (Go's time.Duration string with trailing zero
 * units cut: 300s → 5m, 90s → 1m30s, 1h0m0s → 1h). Inputs in any other spelling would show a diff on
 * every update, so a second `pulumi up` would not be a no-op.
 */
export function goDuration(text: string): string {
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  if (!/^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/.test(text)) {
    if (/^\d+$/.test(text)) return goDuration(`${text}ns`);
    throw new Error(`invalid duration "${text}"`);
  }
  let ns = 0;
  for (const m of text.matchAll(re)) ns += Number(m[1]) * unit[m[2]];
  ns = Math.round(ns);
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

export function optDuration(text: string | undefined): string | undefined {
  return text === undefined ? undefined : goDuration(text);
}

/** A restart policy as the provider stores it (an unset window reads back as "0s"). */
export function restartPolicy(p: {
  condition?: string;
  delay?: string;
  maxAttempts?: number;
  window?: string;
}): docker.types.input.ServiceTaskSpecRestartPolicy {
  return {
    ...(p.condition !== undefined ? { condition: p.condition } : {}),
    ...(p.delay !== undefined ? { delay: goDuration(p.delay) } : {}),
    ...(p.maxAttempts !== undefined ? { maxAttempts: p.maxAttempts } : {}),
    window: goDuration(p.window ?? "0s"),
  };
}
