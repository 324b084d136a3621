/** The Docker data root's use (images, volumes, containers, build cache) against the operator's budget. */
import type Docker from "dockerode";

export async function diskUse(
  docker: Docker,
  budget: number,
): Promise<{ dataRoot?: string; usedBytes?: number; budgetBytes: number; over: boolean }> {
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
