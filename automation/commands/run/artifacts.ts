/**
 * What a run keeps for people to read after it, collected before its teardown whatever happened
 * (also on a failure, a timeout, a signal), within a bounded time: each service's log (every task,
 * timestamps, the last ARTIFACT_LIMITS.logLines lines and at most logBytes of them), each task's
 * history (state, error, exit code, node), the test's output, the plan as `cc-ci check` prints it. Every secret the run holds (the
 * stack's `masks` output) is replaced by `***` in what is written. Into `--artifacts DIR`, else
 * `$CC_CI_HOME/runs/<run id>/artifacts/`.
 */
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type Docker from "dockerode";
import * as tar from "tar-stream";
import { LABELS } from "../../../lib/naming";
import { serviceLogTail } from "../../adapters/dockerLogs";
import type { TaskView } from "./converge";

export const ARTIFACT_LIMITS = {
  /** Lines of each service's log kept (its last). */
  logLines: 2000,
  /** Bytes of each service's log kept (its last). */
  logBytes: 1024 * 1024,
  /** How long collecting may take before teardown goes on without the rest. */
  timeMs: 30_000,
};

/** Replaces every secret in `text` with `***` (longest first, so a secret containing another goes whole). */
export function mask(text: string, secrets: string[]): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) if (s) out = out.split(s).join("***");
  return out;
}

/** The last `max` bytes of `lines` joined, whole lines only, saying how many were left out. */
export function tailBytes(lines: string[], max: number): string {
  const kept: string[] = [];
  let size = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const cost = Buffer.byteLength(lines[i]) + 1;
    if (size + cost > max) {
      kept.push(`… ${i + 1} earlier lines not kept …`);
      break;
    }
    kept.push(lines[i]);
    size += cost;
  }
  return `${kept.reverse().join("\n")}\n`;
}

/** A task's history as people read it. */
export function taskRecord(service: string, t: TaskView & { ID?: string; NodeID?: string }) {
  return {
    service,
    task: t.ID,
    slot: t.Slot,
    node: t.NodeID,
    state: t.Status?.State,
    desired: t.DesiredState,
    exitCode: t.Status?.ContainerStatus?.ExitCode,
    error: t.Status?.Err || undefined,
    message: t.Status?.Message,
    at: t.Status?.Timestamp,
    created: t.CreatedAt,
  };
}

/** File names a service may have in the artifacts folder (its Docker name is already safe; kept so). */
function fileName(service: string): string {
  return service.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 120);
}

export interface Collected {
  dir: string;
  files: string[];
  /** What could not be collected (a service's log, the time running out). */
  problems: string[];
}

/** Collects the run's artifacts into `dir` (made if absent); never throws for one missing piece. */
export async function collectArtifacts(
  docker: Docker,
  runId: string,
  dir: string,
  secrets: string[],
  testOutput: string[],
  plan?: string,
): Promise<Collected> {
  mkdirSync(path.join(dir, "services"), { recursive: true });
  const out: Collected = { dir, files: [], problems: [] };
  const write = (rel: string, text: string) => {
    writeFileSync(path.join(dir, rel), mask(text, secrets));
    out.files.push(rel);
  };
  const deadline = Date.now() + ARTIFACT_LIMITS.timeMs;
  if (plan) write("plan.txt", plan);
  if (testOutput.length > 0) write("test.log", tailBytes(testOutput, ARTIFACT_LIMITS.logBytes));
  const services = (await docker.listServices({
    filters: JSON.stringify({ label: [`${LABELS.run}=${runId}`] }),
  })) as { ID: string; Spec?: { Name?: string } }[];
  if (services.length === 0) return out;
  const tasks = (await docker.listTasks({
    filters: JSON.stringify({ service: services.map((s) => s.ID) }),
  })) as (TaskView & { ID?: string })[];
  const nameOf = new Map(services.map((s) => [s.ID, s.Spec?.Name ?? s.ID]));
  const history = tasks
    .map((t) => taskRecord(nameOf.get(t.ServiceID ?? "") ?? "", t))
    .sort((a, b) => a.service.localeCompare(b.service) || String(a.created).localeCompare(String(b.created)));
  write("tasks.json", `${JSON.stringify(history, null, 2)}\n`);
  for (const s of services) {
    const name = nameOf.get(s.ID) as string;
    if (Date.now() > deadline) {
      out.problems.push(
        `${name}: its log was not collected (the ${ARTIFACT_LIMITS.timeMs / 1000} s for artifacts ran out)`,
      );
      continue;
    }
    try {
      const lines = await serviceLogTail(docker, s.ID, ARTIFACT_LIMITS.logLines);
      write(`services/${fileName(name)}.log`, tailBytes(lines, ARTIFACT_LIMITS.logBytes));
    } catch (e) {
      out.problems.push(`${name}: its log could not be read (${(e as Error).message.split("\n")[0]})`);
    }
  }
  return out;
}

/** What the tests may leave in their sandbox's /artifacts, copied out after them. */
export const TEST_ARTIFACT_LIMITS = { maxBytes: 32 * 1024 * 1024, maxFiles: 100 };

/**
 * A name from the sandbox's archive of /artifacts (`artifacts/shots/a.png`) as a path under the run's
 * `test/` folder, or undefined: the first component dropped, no `..`, no absolute path, characters
 * outside [A-Za-z0-9._/-] as `_`, 200 characters at most.
 */
export function testArtifactPath(name: string): string | undefined {
  const rel = name.split("/").slice(1).join("/");
  const norm = path.posix.normalize(rel).replace(/[^A-Za-z0-9._/-]/g, "_");
  if (norm === "" || norm === "." || norm.startsWith("/") || norm.split("/").includes("..")) return undefined;
  if (norm.length > 200) return undefined;
  return norm;
}

/**
 * One entry of the tests' archive: a regular file within the limits is written under `dir`; anything
 * else is skipped (and said). False when the limits are reached: the caller stops reading.
 */
function keepEntry(
  header: tar.Headers,
  entry: NodeJS.ReadableStream,
  next: () => void,
  dir: string,
  limits: typeof TEST_ARTIFACT_LIMITS,
  state: { files: string[]; problems: string[]; bytes: number },
): boolean {
  const skip = () => {
    entry.on("end", next);
    entry.resume();
    return true;
  };
  const rel = testArtifactPath(header.name);
  if (header.type === "directory") return skip();
  if (header.type !== "file" || rel === undefined) {
    state.problems.push(
      `skipped ${header.name.slice(0, 200)} (${header.type ?? "unknown"}: only regular files under /artifacts are kept)`,
    );
    return skip();
  }
  const size = header.size ?? 0;
  if (state.files.length >= limits.maxFiles || state.bytes + size > limits.maxBytes) {
    state.problems.push(
      `the tests' /artifacts holds more than ${limits.maxFiles} files or ${limits.maxBytes / 2 ** 20} MiB: the rest was not kept`,
    );
    return false;
  }
  state.bytes += size;
  const target = path.join(dir, rel);
  mkdirSync(path.dirname(target), { recursive: true });
  const out = createWriteStream(target, { mode: 0o644 });
  out.on("finish", () => {
    state.files.push(rel);
    next();
  });
  out.on("error", (e) => {
    state.problems.push(`${rel}: ${e.message}`);
    entry.resume();
    next();
  });
  entry.pipe(out);
  return true;
}

/**
 * Copies the regular files of a tar stream (Docker's archive of the sandbox's /artifacts) into `dir`,
 * within `limits`: anything else (links, devices, a name that leaves the folder) is skipped and said;
 * past the limits the stream is no longer read.
 */
export function extractTestArtifacts(
  archive: NodeJS.ReadableStream,
  dir: string,
  limits = TEST_ARTIFACT_LIMITS,
): Promise<{ files: string[]; problems: string[] }> {
  const files: string[] = [];
  const problems: string[] = [];
  const extract = tar.extract();
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve({ files, problems });
    };
    const state = { files, problems, bytes: 0 };
    extract.on("entry", (header, entry, next) => {
      if (!keepEntry(header, entry, next, dir, limits, state)) {
        (archive as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
        extract.destroy();
        finish();
      }
    });
    extract.on("finish", finish);
    extract.on("error", (e: Error) => {
      problems.push(`the archive of /artifacts could not be read: ${e.message}`);
      finish();
    });
    archive.on("error", (e: Error) => {
      problems.push(`the archive of /artifacts could not be read: ${e.message}`);
      finish();
    });
    archive.pipe(extract);
  });
}
