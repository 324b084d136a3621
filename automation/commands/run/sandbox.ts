/**
 * The sandbox a run's tests execute in: a container, never a process on the CI host. It gets exactly
 * the run's CI_* values, the run's private copy of the recipe read-only at /recipe, no Docker socket
 * and no other host path, a non-root user with no capabilities, limits on memory, CPU and processes,
 * a network that reaches the run through Traefik (and the run's own services), and a deadline. On
 * timeout or a signal the container is killed, and with it every process the tests started.
 */
import type Docker from "dockerode";
import { PassThrough } from "node:stream";
import { extractTestArtifacts } from "./artifacts";
import { BoundedLines, type LineBudget } from "./boundedLines";

export interface SandboxSpec {
  image: string;
  command: string[];
  env: Record<string, string>;
  /** The run's private recipe copy, mounted read-only at /recipe. */
  recipeDir: string;
  /** Docker network the container joins. */
  network: string;
  /** Networks it joins besides (the run's deps network). */
  extraNetworks?: string[];
  /** Resolvers the container uses (the CI's wildcard DNS), when set. */
  dns?: string[];
  /** Labels (the run's, so a leftover container is residue the checks find). */
  labels: Record<string, string>;
  name: string;
  timeoutMs: number;
  memoryBytes: number;
  nanoCpus: number;
  pids: number;
  /** What of the tests' output is relayed and kept. */
  output: LineBudget;
  /**
   * Where what the tests write to /artifacts goes: a volume of the run's (bounded by its disk budget)
   * is mounted there, its regular files copied into `dir` after the tests, and the volume removed.
   * `copied` and `problems` are filled in.
   */
  artifacts?: { volume: string; dir: string; copied: string[]; problems: string[] };
}

/** Where the tests leave files for people to read (screenshots, traces). */
export const SANDBOX_ARTIFACTS_DIR = "/artifacts";

export const SANDBOX_IMAGE = "cc-ci/sandbox:1";
export const SANDBOX_RECIPE_DIR = "/recipe";
/** Exit status of a test killed at its deadline (as `timeout` reports it). */
export const TEST_TIMEOUT_EXIT = 124;

/** The container's create options: what the sandbox may and may not do, in one place. */
export function sandboxOptions(s: SandboxSpec): Docker.ContainerCreateOptions {
  return {
    name: s.name,
    Image: s.image,
    Cmd: s.command,
    Env: Object.entries(s.env).map(([k, v]) => `${k}=${v}`),
    WorkingDir: SANDBOX_RECIPE_DIR,
    User: "1000:1000",
    Labels: s.labels,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      Binds: [
        `${s.recipeDir}:${SANDBOX_RECIPE_DIR}:ro`,
        ...(s.artifacts ? [`${s.artifacts.volume}:${SANDBOX_ARTIFACTS_DIR}:rw`] : []),
      ],
      NetworkMode: s.network,
      ...(s.dns?.length ? { Dns: s.dns } : {}),
      Memory: s.memoryBytes,
      MemorySwap: s.memoryBytes,
      NanoCpus: s.nanoCpus,
      PidsLimit: s.pids,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      ReadonlyRootfs: true,
      // Writable scratch space for the tests (and a browser's profile), in memory and bounded.
      Tmpfs: { "/tmp": "rw,nosuid,nodev,size=256m", "/home/ci": "rw,nosuid,nodev,size=64m" },
      ShmSize: 64 * 1024 * 1024,
      Init: true,
      Privileged: false,
      AutoRemove: false,
    },
  };
}

/**
 * Runs the tests; their exit status (TEST_TIMEOUT_EXIT at the deadline). The container is removed
 * afterwards whatever happened.
 */
export async function runSandbox(
  docker: Docker,
  s: SandboxSpec,
  signal: AbortSignal,
  say: (line: string) => void,
): Promise<number> {
  say(`test: ${s.command.join(" ")} (in ${s.image})`);
  const artifacts = s.artifacts;
  const dropVolume = async () => {
    if (artifacts)
      await docker
        .getVolume(artifacts.volume)
        .remove()
        .catch(() => undefined);
  };
  const container = await createSandbox(docker, s, dropVolume);
  let timedOut = false;
  const kill = () => container.kill({ signal: "SIGKILL" }).catch(() => undefined);
  const onAbort = () => void kill();
  const timer = setTimeout(() => {
    timedOut = true;
    say(`test: no result after ${Math.round(s.timeoutMs / 1000)} s; the sandbox is killed`);
    void kill();
  }, s.timeoutMs);
  try {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const out = new PassThrough();
    container.modem.demuxStream(stream, out, out);
    const lines = new BoundedLines((l) => say(`test| ${l}`), s.output);
    out.on("data", (d: Buffer) => lines.write(d));
    // The output can trail the exit: wait for the stream's end before the container goes.
    const drained = new Promise<void>((resolve) => {
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.on("error", () => resolve());
    });
    signal.addEventListener("abort", onAbort, { once: true });
    await container.start();
    if (signal.aborted) await kill();
    const r = (await container.wait()) as { StatusCode: number };
    // Docker ends the stream once the last output is sent: on a busy host that can take seconds
    // after the exit; the bound is only for a stream that never ends.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((resolve) => (bound = setTimeout(resolve, 30_000)))]);
    // Cleared, or the process that ran the tests stays up for the rest of the 30 s.
    clearTimeout(bound);
    lines.end();
    if (artifacts) await copyArtifacts(container, artifacts);
    return timedOut ? TEST_TIMEOUT_EXIT : r.StatusCode;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    await container.remove({ force: true }).catch(() => undefined);
    await dropVolume();
  }
}

/**
 * The sandbox container on its networks, and its /artifacts volume (a fresh volume takes the image's
 * /artifacts folder, and its owner — the tests' user — at first mount); on failure nothing is left.
 */
async function createSandbox(
  docker: Docker,
  s: SandboxSpec,
  dropVolume: () => Promise<void>,
): Promise<Docker.Container> {
  if (s.artifacts) await docker.createVolume({ Name: s.artifacts.volume, Labels: s.labels });
  let container: Docker.Container;
  try {
    container = await docker.createContainer(sandboxOptions(s));
  } catch (e) {
    await dropVolume();
    throw e;
  }
  try {
    for (const n of s.extraNetworks ?? []) await docker.getNetwork(n).connect({ Container: container.id });
  } catch (e) {
    await container.remove({ force: true }).catch(() => undefined);
    await dropVolume();
    throw e;
  }
  return container;
}

/** The regular files the tests left in /artifacts, copied out of the stopped sandbox (bounded). */
async function copyArtifacts(
  container: Docker.Container,
  a: NonNullable<SandboxSpec["artifacts"]>,
): Promise<void> {
  try {
    const archive = await container.getArchive({ path: SANDBOX_ARTIFACTS_DIR });
    const got = await extractTestArtifacts(archive, a.dir);
    a.copied.push(...got.files);
    a.problems.push(...got.problems);
  } catch (e) {
    // An image without /artifacts (a recipe's own) leaves nothing to copy.
    if ((e as { statusCode?: number }).statusCode !== 404)
      a.problems.push(`the tests' /artifacts could not be read: ${(e as Error).message.split("\n")[0]}`);
  }
}
