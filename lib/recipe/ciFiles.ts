/**
 * Stage 1 (ci) of the loader: the recipe's own CI files, read through the one resolver like every other
 * file of the recipe, and checked here so `cc-ci check` refuses what a run would refuse.
 *
 *   .cc-ci/image   the image the tests run in: one image reference, nothing else
 *   .cc-ci/test    the default test command: a regular file inside the recipe
 *   .cc-ci/env     the recipe's values for CI runs (read by stage 1, envfile.ts)
 *   .cc-ci/deps.yml what the recipe needs besides itself (lib/deps/spec.ts)
 *
 * A problem never quotes what such a file holds (a symlink to a host file must not leak it).
 */
import type { Problem } from "../errors";
import type { RecipeFiles } from "./files";
import { readDeps, type DepSpec } from "../deps/spec";
import { callHelper } from "./helpers";

export const CI_IMAGE_FILE = ".cc-ci/image";
export const CI_TEST_FILE = ".cc-ci/test";
/** Largest .cc-ci/image read: one reference (255 for the name, 128 for the tag, a digest) and a newline. */
export const MAX_CI_IMAGE_BYTES = 1024;
/** Largest .cc-ci/test: a script, not a payload. */
export const MAX_CI_TEST_BYTES = 256 * 1024;

/** What the recipe says of its tests. */
export interface RecipeCi {
  /** The sandbox image the recipe names (before the operator's substitutions), if any. */
  image?: string;
  /** The recipe-relative path of its default test, if it has one. */
  test?: string;
  /** The dependencies it declares (.cc-ci/deps.yml); none without the file. */
  deps: DepSpec[];
}

export function readCiFiles(files: RecipeFiles): { ci: RecipeCi; problems: Problem[] } {
  const declared = readDeps(files);
  const ci: RecipeCi = { deps: declared.deps };
  const problems: Problem[] = [...declared.problems];
  const problem = (file: string, message: string) => problems.push({ path: "", file, message });
  if (files.present(CI_IMAGE_FILE)) {
    const r = files.read(CI_IMAGE_FILE, MAX_CI_IMAGE_BYTES);
    if (!r.ok) problem(CI_IMAGE_FILE, r.message);
    else {
      const lines = r.text.split("\n").map((l) => l.trim());
      const image = lines[0];
      if (lines.slice(1).some((l) => l !== ""))
        problem(CI_IMAGE_FILE, "must hold one image reference on its first line, and nothing else");
      else if (image !== "" && !isImageReference(image))
        // Docker's own words would quote the text: only that it is none.
        problem(CI_IMAGE_FILE, "is not an image reference ([registry/]name[:tag][@digest])");
      else if (image !== "") ci.image = image;
    }
  }
  if (files.present(CI_TEST_FILE)) {
    const r = files.read(CI_TEST_FILE, MAX_CI_TEST_BYTES);
    if (!r.ok) problem(CI_TEST_FILE, r.message);
    else ci.test = CI_TEST_FILE;
  }
  return { ci, problems };
}

/** Whether Docker reads `ref` as an image reference (distribution/reference, in the compose helper). */
export function isImageReference(ref: string): boolean {
  const res = callHelper<{ results: { normalized?: string; error?: string }[] }>("compose", "reference", {
    references: [ref],
  });
  return res.results[0]?.normalized !== undefined;
}
