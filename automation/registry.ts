/**
 * The warm layer's image registry, seen from the CI host: seeding it with this host's images (so the
 * swarm's workers pull them through it), and weighing it against its disk budget.
 */
import type Docker from "dockerode";
import type { RegistryOutputs } from "../components/registry";
import { hubName } from "../lib/registry";

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
      await follow(docker, await docker.getImage(`${repo}:${name.tag}`).push({}));
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
