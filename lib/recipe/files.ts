/**
 * The one resolver for every file a recipe names: .env.sample, abra.sh, compose files and overlays,
 * env_file, secret and config files, bind mount sources. A recipe comes from a pull request, so a
 * path must stay inside the recipe folder after every symlink is resolved, must be a regular file
 * (not a device, a FIFO or a socket) of bounded size, and a problem never quotes the file's content
 * (a symlink to a host file must not leak it into an error message or a report).
 */
import { closeSync, existsSync, lstatSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import * as path from "node:path";

/** Largest file a recipe may have the loader read. */
export const MAX_RECIPE_FILE_BYTES = 1024 * 1024;

export type Resolved = { ok: true; path: string } | { ok: false; message: string };

export class RecipeFiles {
  /** The recipe folder with every symlink resolved. */
  readonly root: string;

  constructor(dir: string) {
    this.root = realpathSync(dir);
  }

  /** `rel` resolved inside the recipe (symlinks followed and checked), whether or not it exists. */
  resolve(rel: string): Resolved {
    if (rel.includes("\0")) return { ok: false, message: "is not a valid path" };
    const shown = this.shown(rel);
    const abs = path.resolve(this.root, rel);
    let real: string;
    try {
      real = existsSync(abs) ? realpathSync(abs) : realParent(abs);
    } catch {
      return { ok: false, message: "cannot be resolved" };
    }
    const r = path.relative(this.root, real);
    if (r !== "" && (r.startsWith("..") || path.isAbsolute(r)))
      return { ok: false, message: `${shown} is outside the recipe folder` };
    return { ok: true, path: real };
  }

  /** Whether the recipe has an entry `rel` at all (a symlink pointing anywhere counts: reading it says why not). */
  present(rel: string): boolean {
    try {
      lstatSync(path.resolve(this.root, rel));
      return true;
    } catch {
      return false;
    }
  }

  /** Whether `rel` is inside the recipe and exists. */
  exists(rel: string): boolean {
    const r = this.resolve(rel);
    return r.ok && existsSync(r.path);
  }

  /**
   * The text of the regular file `rel` inside the recipe, at most `maxBytes`; otherwise why not
   * (never with the content).
   */
  read(
    rel: string,
    maxBytes = MAX_RECIPE_FILE_BYTES,
  ): { ok: true; text: string; path: string } | { ok: false; message: string } {
    const r = this.resolve(rel);
    if (!r.ok) return r;
    const shown = this.shown(rel);
    if (!existsSync(r.path)) return { ok: false, message: `${shown} does not exist` };
    const st = statSync(r.path);
    if (!st.isFile()) return { ok: false, message: `${shown} is not a regular file` };
    if (st.size > maxBytes)
      return { ok: false, message: `${shown} is ${st.size} bytes; at most ${maxBytes} are read` };
    // Read at most maxBytes + 1 even if the file grows between stat and read.
    const fd = openSync(r.path, "r");
    try {
      const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
      const n = readSync(fd, buf, 0, buf.length, 0);
      if (n > maxBytes) return { ok: false, message: `${shown} is over ${maxBytes} bytes` };
      return { ok: true, text: buf.subarray(0, n).toString("utf8"), path: r.path };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * `rel` as a problem names it: relative to the recipe, never the host's absolute path (Docker's
   * loader hands absolute paths; where they lead outside, `../…` says so without naming the host).
   */
  shown(rel: string): string {
    return path.isAbsolute(rel) ? path.relative(this.root, rel) || "." : rel;
  }

  /** The path of `abs` relative to the recipe, for messages. */
  relative(abs: string): string {
    return path.relative(this.root, abs) || ".";
  }
}

/** The real path of a file that does not exist yet: its nearest existing parent's, resolved. */
function realParent(abs: string): string {
  let dir = path.dirname(abs);
  const rest = [path.basename(abs)];
  while (!existsSync(dir)) {
    rest.unshift(path.basename(dir));
    dir = path.dirname(dir);
  }
  return path.join(realpathSync(dir), ...rest);
}
