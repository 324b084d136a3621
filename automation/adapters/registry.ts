/**
 * The warm layer's image registry, seen from the CI host: seeding it with this host's images (so the
 * swarm's workers pull them through it), and weighing it against its disk budget.
 */
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import type { RegistryOutputs } from "../../lib/contract";
import { hubName } from "../../lib/registry";

/** The registry's answer on its push address, within `timeoutMs`: it was just (re)made. */
async function untilAnswers(push: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    try {
      const r = await fetch(`http://${push}/v2/`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
    }
    if (Date.now() > deadline)
      throw new Error(`the warm layer's image registry does not answer at http://${push}/v2/ (${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Runs a push or pull stream to its end; its first error thrown. */
function follow(docker: Docker, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, res: { error?: string }[]) => {
      const failed = err?.message ?? res.find((m) => m.error)?.error;
      if (failed) reject(new Error(failed));
      else resolve();
    });
  });
}

/**
 * Pushes each image of the seed under its Docker Hub path (what an engine asks its mirror for) to
 * the registry. Pushing what the registry has already is cheap (its layers are skipped). Throws,
 * naming the image, when this host lacks one or the push fails.
 */
export async function seedRegistry(
  docker: Docker,
  registry: RegistryOutputs,
  onOutput: (s: string) => void,
): Promise<number> {
  if (registry.pullThrough || registry.seed.length === 0) return 0;
  await untilAnswers(registry.push);
  for (const image of registry.seed) {
    const name = hubName(image);
    if ("problem" in name) throw new Error(`registry.seed: ${image}: ${name.problem}`);
    const local = docker.getImage(image);
    try {
      await local.inspect();
    } catch (e) {
      throw new Error(
        `registry.seed names ${image}, which this host's engine does not have (build or pull it first: scripts/env/images.sh builds this project's)`,
        { cause: e },
      );
    }
    const repo = `${registry.push}/${name.repository}`;
    await local.tag({ repo, tag: name.tag });
    try {
      await follow(
        docker,
        await docker.getImage(`${repo}:${name.tag}`).push({ authconfig: { serveraddress: registry.push } }),
      );
    } catch (e) {
      throw new Error(
        `pushing ${image} to the warm layer's registry failed: ${e instanceof Error ? e.message : e}`,
        { cause: e },
      );
    } finally {
      // Only the name made for the push goes; the image stays under its own.
      await docker
        .getImage(`${repo}:${name.tag}`)
        .remove({ noprune: true })
        .catch(() => undefined);
    }
  }
  onOutput(`image registry: ${registry.seed.length} image(s) seeded for the workers (${registry.mirror})\n`);
  return registry.seed.length;
}

/** What an audit says of the registry: whether it answers, what it holds against its budget. */
export interface RegistryUse {
  answers: boolean;
  usedBytes?: number;
  budgetBytes: number;
  over: boolean;
  /** With --reap, over budget: what was done (the cache emptied, garbage collected). */
  reaped?: string;
}

/** Runs a command in a container; its output (stdout and stderr) and exit code. */
async function execIn(
  docker: Docker,
  container: string,
  cmd: string[],
): Promise<{ code: number; out: string }> {
  const exec = await docker
    .getContainer(container)
    .exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on("data", (c: Buffer) => chunks.push(c));
  docker.modem.demuxStream(stream, sink, sink);
  await new Promise<void>((resolve, reject) => {
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  const { ExitCode } = await exec.inspect();
  return { code: ExitCode ?? -1, out: Buffer.concat(chunks).toString("utf8") };
}

/** Bytes under the registry's storage (`du -sk`, which the official image's busybox has too). */
async function storedBytes(docker: Docker, container: string): Promise<number> {
  const { code, out } = await execIn(docker, container, ["du", "-sk", "/var/lib/registry"]);
  const kib = /^(\d+)\s/.exec(out);
  if (code !== 0 || !kib) throw new Error(`du in ${container} said: ${out.trim().slice(0, 200)}`);
  return Number(kib[1]) * 1024;
}

/**
 * The registry against its disk budget. With `reap`, a registry over it is brought down: a
 * pull-through cache is emptied (it refills from its remote on the next pulls) and restarted; a
 * seeded registry's unreferenced blobs are collected (what the seed references stays: a seed bigger
 * than the budget is the operator's to resize).
 */
export async function registryUse(
  docker: Docker,
  registry: RegistryOutputs,
  reap: boolean,
  log: (l: string) => void,
): Promise<RegistryUse> {
  const use: RegistryUse = { answers: false, budgetBytes: registry.diskBudgetBytes, over: false };
  try {
    use.answers = (await fetch(`http://${registry.push}/v2/`, { signal: AbortSignal.timeout(3000) })).ok;
  } catch {
    use.answers = false;
  }
  use.usedBytes = await storedBytes(docker, registry.container);
  use.over = use.usedBytes > use.budgetBytes;
  if (!use.over || !reap) return use;
  // A cache refills from its remote: emptied. A seeded registry keeps what the seed references.
  const step = registry.pullThrough
    ? {
        doing: "emptying the image registry's cache",
        cmd: ["find", "/var/lib/registry", "-mindepth", "1", "-delete"],
        done: "cache emptied",
      }
    : {
        doing: "collecting the image registry's garbage",
        cmd: ["registry", "garbage-collect", "--delete-untagged", "/etc/docker/registry/config.yml"],
        done: "garbage collected",
      };
  log(`${step.doing} (${use.usedBytes} bytes, budget ${use.budgetBytes})`);
  const r = await execIn(docker, registry.container, step.cmd);
  if (r.code !== 0) throw new Error(`${step.doing} in ${registry.container}: ${r.out.trim().slice(-300)}`);
  if (registry.pullThrough) await docker.getContainer(registry.container).restart();
  use.reaped = step.done;
  use.usedBytes = await storedBytes(docker, registry.container);
  use.over = use.usedBytes > use.budgetBytes;
  return use;
}
