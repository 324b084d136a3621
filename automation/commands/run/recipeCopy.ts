/**
 * A run's private copy of its recipe: the loader, the deploy (bind mounts) and the sandboxed tests
 * read this copy, never the folder the pull request put on the host. From a git repository at `ref`
 * when one is given (exactly the commit under test), else a copy of the folder. Only directories and
 * regular files are copied (symlinks stay symlinks, which the loader's resolver then judges; devices,
 * FIFOs and sockets are left out), within a size budget; the copy belongs to root and is read-only.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmSync,
  copyFileSync,
  symlinkSync,
} from "node:fs";
import * as path from "node:path";
import { ValidationError } from "../../../lib/errors";

/** Largest recipe copied (bytes, all files together). */
export const MAX_RECIPE_BYTES = 64 * 1024 * 1024;
/** Most entries copied. */
export const MAX_RECIPE_ENTRIES = 10_000;

export interface RecipeCopy {
  dir: string;
  /** Entries left out (special files), for the report. */
  skipped: string[];
  /** Where the copy came from: git at the ref, or the folder. */
  source: "git" | "folder";
}

export function copyRecipe(source: string, into: string, ref?: string): RecipeCopy {
  rmSync(into, { recursive: true, force: true });
  mkdirSync(path.dirname(into), { recursive: true, mode: 0o700 });
  const skipped: string[] = [];
  // In a git repository, exactly the commit under test; a plain folder (--ref then only labels the run) as it is.
  const git = ref !== undefined && inGitRepository(source);
  if (git) fromGit(source, into, ref);
  else copyTree(source, into, { bytes: 0, entries: 0 }, skipped, "");
  readOnly(into);
  return { dir: into, skipped, source: git ? "git" : "folder" };
}

function inGitRepository(dir: string): boolean {
  try {
    return (
      execFileSync("git", ["-C", dir, "rev-parse", "--is-inside-work-tree"], {
        stdio: ["ignore", "pipe", "ignore"],
      })
        .toString()
        .trim() === "true"
    );
  } catch {
    return false;
  }
}

/** `git archive` of `ref` for the recipe's folder inside its repository, unpacked into `into`. */
function fromGit(source: string, into: string, ref: string): void {
  const bad = (message: string, cause?: unknown) =>
    new ValidationError("run", [{ path: "--ref", message }], [], cause);
  if (!/^[0-9A-Za-z._/+-]{1,100}$/.test(ref) || ref.startsWith("-"))
    throw bad(`${ref}: not a commit or branch name`);
  const git = (args: string[], opts: { input?: Buffer } = {}) =>
    execFileSync("git", ["-C", source, ...args], {
      maxBuffer: MAX_RECIPE_BYTES * 2,
      ...opts,
      stdio: ["pipe", "pipe", "pipe"],
    });
  let prefix: string;
  try {
    prefix = git(["rev-parse", "--show-prefix"]).toString().trim();
    git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  } catch (e) {
    throw bad(`${source} has no commit ${ref} (${(e as Error).message.split("\n")[0]})`, e);
  }
  // From the repository's top: `git archive` in a subfolder refuses a tree-ish path.
  const top = git(["rev-parse", "--show-toplevel"]).toString().trim();
  const tar = execFileSync("git", ["-C", top, "archive", "--format=tar", `${ref}:${prefix}`], {
    maxBuffer: MAX_RECIPE_BYTES * 2,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (tar.length > MAX_RECIPE_BYTES)
    throw new Error(`the recipe at ${ref} is over ${MAX_RECIPE_BYTES} bytes`);
  mkdirSync(into, { recursive: true, mode: 0o755 });
  // --no-same-owner: root owns the copy, whatever the archive says.
  execFileSync("tar", ["-x", "--no-same-owner", "--no-same-permissions", "-C", into], { input: tar });
}

function copyTree(
  src: string,
  dst: string,
  budget: { bytes: number; entries: number },
  skipped: string[],
  rel: string,
): void {
  mkdirSync(dst, { mode: 0o755 });
  for (const name of readdirSync(src)) {
    const from = path.join(src, name);
    const to = path.join(dst, name);
    const r = path.join(rel, name);
    if (++budget.entries > MAX_RECIPE_ENTRIES)
      throw new Error(`the recipe has over ${MAX_RECIPE_ENTRIES} files`);
    const st = lstatSync(from);
    if (st.isDirectory()) copyTree(from, to, budget, skipped, r);
    else if (st.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else if (st.isFile()) {
      budget.bytes += st.size;
      if (budget.bytes > MAX_RECIPE_BYTES) throw new Error(`the recipe is over ${MAX_RECIPE_BYTES} bytes`);
      copyFileSync(from, to);
      // Keep the executable bit (a test script), drop every other permission the source had.
      chmodSync(to, st.mode & 0o111 ? 0o755 : 0o644);
    } else skipped.push(r);
  }
}

/** Everything read-only (directories and files), owned by whoever runs cc-ci (root in CI). */
function readOnly(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) continue;
    if (st.isDirectory()) readOnly(p);
    else chmodSync(p, st.mode & 0o111 ? 0o555 : 0o444);
  }
  chmodSync(dir, 0o555);
}

/** Removes a copy (its read-only folders made writable first). */
export function removeRecipeCopy(dir: string): void {
  const writable = (p: string) => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    if (st.isSymbolicLink() || !st.isDirectory()) return;
    chmodSync(p, 0o755);
    for (const n of readdirSync(p)) writable(path.join(p, n));
  };
  writable(dir);
  rmSync(dir, { recursive: true, force: true });
}
