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
