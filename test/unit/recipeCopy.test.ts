/** A run's private copy of its recipe: from git at the commit under test, or the folder; read-only; special files left out. */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { copyRecipe, removeRecipeCopy } from "../../automation/commands/run/recipeCopy";
import { ValidationError } from "../../lib/errors";
import { tempRecipe } from "../helpers/recipes";

const into = () => path.join(mkdtempSync(path.join(tmpdir(), "cc-ci-copy-")), "recipe");

describe("copyRecipe", () => {
  test("a folder: files and folders copied read-only, symlinks kept as links, FIFOs left out", () => {
    const src = tempRecipe({ "compose.yml": "x", ".cc-ci/test": "#!/bin/sh\n" });
    execFileSync("chmod", ["+x", path.join(src, ".cc-ci/test")]);
    symlinkSync("/etc/passwd", path.join(src, "leak"));
    execFileSync("mkfifo", [path.join(src, "pipe")]);
    const c = copyRecipe(src, into());
    expect(c.source).toBe("folder");
    expect(c.skipped).toEqual(["pipe"]);
    expect(readFileSync(path.join(c.dir, "compose.yml"), "utf8")).toBe("x");
    expect(statSync(path.join(c.dir, "compose.yml")).mode & 0o777).toBe(0o444);
    expect(statSync(path.join(c.dir, ".cc-ci/test")).mode & 0o777).toBe(0o555);
    expect(statSync(c.dir).mode & 0o777).toBe(0o555);
    expect(lstatSync(path.join(c.dir, "leak")).isSymbolicLink()).toBe(true); // judged by the loader's resolver
    removeRecipeCopy(c.dir);
    expect(existsSync(c.dir)).toBe(false);
  });

  test("in a git repository with --ref: exactly that commit, not the working tree", () => {
    const repo = tempRecipe({ "r/compose.yml": "committed" });
    const git = (...a: string[]) =>
      execFileSync("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", ...a])
        .toString()
        .trim();
    git("init", "-q");
    git("add", ".");
    git("commit", "-qm", "c");
    const ref = git("rev-parse", "HEAD");
    writeFileSync(path.join(repo, "r/compose.yml"), "edited after the commit");
    const c = copyRecipe(path.join(repo, "r"), into(), ref);
    expect(c.source).toBe("git");
    expect(readFileSync(path.join(c.dir, "compose.yml"), "utf8")).toBe("committed");
    removeRecipeCopy(c.dir);
  });

  test("a ref the repository does not have, or that is not a ref, is bad input", () => {
    const repo = tempRecipe({ "compose.yml": "x" });
    execFileSync("git", ["-C", repo, "init", "-q"]);
    expect(() => copyRecipe(repo, into(), "0000000000000000000000000000000000000000")).toThrow(
      ValidationError,
    );
    expect(() => copyRecipe(repo, into(), "--upload-pack=evil")).toThrow(/not a commit or branch name/);
  });

  test("--ref on a plain folder labels the run; the folder is copied as it is", () => {
    const c = copyRecipe(tempRecipe({ "compose.yml": "x" }), into(), "abc1234");
    expect(c.source).toBe("folder");
    removeRecipeCopy(c.dir);
  });
});
