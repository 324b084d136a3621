/** Small builders the components share: label lists, resources and policies in the provider's shapes. */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type * as docker from "@pulumi/docker";
import type * as pulumi from "@pulumi/pulumi";
import type { Resources } from "../lib/config";
import { PROJECT_DIR } from "../lib/projectDir";
import { bytes, goDuration } from "../lib/units";

/** HAProxy configurations shipped with the project (images/haproxy), mounted into stock images too. */
export function haproxyConfig(name: "docker-api-readonly.cfg" | "tcp-forward.cfg"): string {
  return readFileSync(path.join(PROJECT_DIR, "images", "haproxy", name), "utf8");
}

export function labelList(labels: Record<string, string>): docker.types.input.ServiceLabel[] {
  return Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, value]) => ({ label, value }));
}

export function taskResources(r: Resources): docker.types.input.ServiceTaskSpecResources | undefined {
  const limits = {
    ...(r.memoryLimit !== undefined ? { memoryBytes: bytes(r.memoryLimit) } : {}),
    ...(r.cpuLimit !== undefined ? { nanoCpus: Math.round(r.cpuLimit * 1e9) } : {}),
  };
  const reservation =
    r.memoryReservation !== undefined ? { memoryBytes: bytes(r.memoryReservation) } : undefined;
  if (Object.keys(limits).length === 0 && !reservation) return undefined;
  return { limits: Object.keys(limits).length > 0 ? limits : undefined, reservation };
}

/**
 * A healthcheck's timing: checked every `everyS` seconds, unhealthy once it has failed for about
 * `giveUpS` seconds past its start period (Docker counts retries, not time). On Docker 20.10 the first
 * check comes one interval after the start (no start_interval), so a long interval delays "healthy";
 * a short one runs a process in the container, and through dockerd, containerd and runc, that often.
 */
export function healthTiming(everyS: number, giveUpS: number): { interval: string; retries: number } {
  return { interval: `${everyS}s`, retries: Math.max(3, Math.ceil(giveUpS / everyS)) };
}

/** Swarm waits for tasks to be running — and, with a healthcheck, healthy — before `up` moves on. */
export const CONVERGE: docker.types.input.ServiceConvergeConfig = { delay: "2s", timeout: "10m" };

/**
 * For a secret or config named after its content: the Docker provider asks for delete-before-replace,
 * but a service still uses the old one until it is updated, so the delete would fail (and, pending,
 * fail every later update). With unique names the new one can be made first.
 */
export const CREATE_BEFORE_DELETE: pulumi.CustomResourceOptions = { deleteBeforeReplace: false };

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
