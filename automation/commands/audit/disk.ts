/** The Docker data root's use (images, volumes, containers, build cache) against the operator's budget. */
import type Docker from "dockerode";

export interface DiskReport {
  dataRoot?: string;
  usedBytes?: number;
  budgetBytes: number;
  over: boolean;
  /** Images `--reap` removed to come under the budget (pulled, unused, oldest first). */
  pruned?: string[];
}

export async function diskUse(docker: Docker, budget: number): Promise<DiskReport> {
  try {
    const info = (await docker.info()) as { DockerRootDir?: string };
    const df = (await docker.df()) as {
      LayersSize?: number;
      Volumes?: { UsageData?: { Size?: number } }[];
      Containers?: { SizeRw?: number }[];
      BuildCache?: { Size?: number }[];
    };
    const used =
      (df.LayersSize ?? 0) +
      (df.Volumes ?? []).reduce((n, v) => n + Math.max(0, v.UsageData?.Size ?? 0), 0) +
      (df.Containers ?? []).reduce((n, c) => n + (c.SizeRw ?? 0), 0) +
      (df.BuildCache ?? []).reduce((n, b) => n + (b.Size ?? 0), 0);
    return { dataRoot: info.DockerRootDir, usedBytes: used, budgetBytes: budget, over: used > budget };
  } catch {
    return { budgetBytes: budget, over: false };
  }
}

interface ImageInfo {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Created: number;
  Size: number;
}

/**
 * Images to remove to free `bytes`: pulled ones only (they carry a registry digest, so a run can pull
 * them again; images built on this host cannot come back and are never taken), used by no container
 * and named by no swarm service (the warm layer's, or a run's still up), oldest first. (Docker keeps
 * no time of last use; an image's age stands in for it.)
 */
export function imagesToPrune(
  images: ImageInfo[],
  inUse: { imageIds: Set<string>; references: Set<string> },
  bytes: number,
): ImageInfo[] {
  const named = (i: ImageInfo) =>
    [...(i.RepoTags ?? []), ...(i.RepoDigests ?? [])].some((r) => inUse.references.has(r)) ||
    (i.RepoDigests ?? []).some((d) => inUse.references.has(d.split("@")[1] ?? ""));
  const out: ImageInfo[] = [];
  let freed = 0;
  for (const i of [...images].sort((a, b) => a.Created - b.Created)) {
    if (freed >= bytes) break;
    if ((i.RepoDigests ?? []).length === 0 || inUse.imageIds.has(i.Id) || named(i)) continue;
    out.push(i);
    freed += i.Size;
  }
  return out;
}

/** Removes pulled, unused images, oldest first, until `bytes` are freed; what it removed. */
export async function pruneImages(docker: Docker, bytes: number): Promise<string[]> {
  const images = (await docker.listImages()) as ImageInfo[];
  const containers = await docker.listContainers({ all: true });
  const references = new Set<string>();
  const services = await docker.listServices().catch(() => []);
  for (const s of services) {
    const spec = s.Spec?.TaskTemplate as { ContainerSpec?: { Image?: string } } | undefined;
    const image = spec?.ContainerSpec?.Image ?? "";
    const [ref, digest] = image.split("@");
    references.add(ref);
    if (!ref.includes(":")) references.add(`${ref}:latest`);
    if (digest) references.add(digest);
  }
  const inUse = { imageIds: new Set(containers.map((c) => c.ImageID)), references };
  const removed: string[] = [];
  for (const i of imagesToPrune(images, inUse, bytes)) {
    const name = i.RepoTags?.[0] ?? i.RepoDigests?.[0] ?? i.Id;
    try {
      await docker.getImage(i.Id).remove();
      removed.push(name);
    } catch {
      // in use after all (a run started meanwhile): kept
    }
  }
  return removed;
}
