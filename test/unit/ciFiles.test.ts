/**
 * The recipe's .cc-ci/image and .cc-ci/test go through the recipe's resolver at validation: a symlink
 * out of the recipe (the agent's environment, the Pulumi passphrase), a device that never ends or
 * never answers, a file over its size, or text that is no image reference is refused with a named
 * problem that never quotes the file — before anything runs.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync } from "node:fs";
import * as path from "node:path";
import { isImageReference, MAX_CI_IMAGE_BYTES } from "../../lib/recipe/ciFiles";
import { load as loadFixture, problemsOf as fixtureProblems, tempRecipe } from "../helpers/recipes";

const load = (dir: string) => loadFixture("web", { dir });
const problemsOf = (dir: string) => fixtureProblems("web", { dir });

const COMPOSE = { "compose.yml": 'version: "3.8"\nservices:\n  app:\n    image: x\n' };

function recipeWith(files: Record<string, string>, links: Record<string, string> = {}): string {
  const dir = tempRecipe({ ...COMPOSE, ...files });
  for (const [name, target] of Object.entries(links)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    symlinkSync(target, path.join(dir, name));
  }
  return dir;
}

describe(".cc-ci/image", () => {
  test("a reference is read, substitutions apply later", () => {
    expect(
      load(
        recipeWith({
          ".cc-ci/image": "registry.example:5000/team/tests:1.2@sha256:" + "a".repeat(64) + "\n",
        }),
      ).ci.image,
    ).toBe("registry.example:5000/team/tests:1.2@sha256:" + "a".repeat(64));
    expect(load(recipeWith({ ".cc-ci/image": "\n" })).ci.image).toBeUndefined();
    expect(load(recipeWith({})).ci).toEqual({ deps: [] });
  });

  test.each([
    ["/proc/self/environ", "the agent's environment"],
    ["/var/lib/cc-ci/passphrase", "the Pulumi passphrase"],
    ["/dev/ptmx", "a terminal that blocks a read forever"],
    ["/dev/zero", "a file without end"],
    ["../../etc/hostname", "a relative way out"],
  ])("a symlink to %s (%s) is refused, naming no content", (target) => {
    const p = problemsOf(recipeWith({}, { ".cc-ci/image": target }));
    expect(p).toEqual([
      expect.stringMatching(/^\.cc-ci\/image: .*(outside the recipe|not a regular file|does not exist)/),
    ]);
    expect(p.join("\n")).not.toMatch(/PATH=|HOME=/);
  });

  test("a FIFO inside the recipe (a read would wait forever) is not a regular file", () => {
    const dir = recipeWith({});
    mkdirSync(path.join(dir, ".cc-ci"));
    execFileSync("mkfifo", [path.join(dir, ".cc-ci", "image")]);
    expect(problemsOf(dir)).toEqual([expect.stringMatching(/^\.cc-ci\/image: .*not a regular file/)]);
  });

  test.each([
    ["text that is no reference", "IS_SANDBOX=yes|SHELL=/bin/bash"],
    ["upper case", "Nginx:1"],
    ["a second line", "nginx:1\nrm -rf /\n"],
    ["an option", "--privileged"],
  ])("%s is refused without being quoted", (_what, content) => {
    const p = problemsOf(recipeWith({ ".cc-ci/image": content }));
    expect(p).toEqual([expect.stringMatching(/^\.cc-ci\/image: /)]);
    expect(p[0]).not.toContain(content.split("\n")[0]);
  });

  test("a file over its size is refused", () => {
    expect(problemsOf(recipeWith({ ".cc-ci/image": "a".repeat(MAX_CI_IMAGE_BYTES + 1) }))).toEqual([
      expect.stringMatching(/^\.cc-ci\/image: .*at most 1024/),
    ]);
  });
});

describe(".cc-ci/test", () => {
  test("a regular file inside the recipe is the default test", () => {
    expect(load(recipeWith({ ".cc-ci/test": "#!/bin/sh\ntrue\n" })).ci.test).toBe(".cc-ci/test");
    expect(
      load(recipeWith({ "tests/run.sh": "#!/bin/sh\n" }, { ".cc-ci/test": "../tests/run.sh" })).ci.test,
    ).toBe(".cc-ci/test");
  });

  test("a symlink out of the recipe is refused", () => {
    expect(problemsOf(recipeWith({}, { ".cc-ci/test": "/etc/shadow" }))).toEqual([
      expect.stringMatching(/^\.cc-ci\/test: .*outside the recipe/),
    ]);
  });
});

describe("image references as Docker's distribution/reference reads them (through the compose helper)", () => {
  test.each([
    "nginx",
    "nginx:1.25",
    "library/nginx:latest",
    "cc-ci/sandbox:1",
    "localhost:5000/a/b_c__d-e.f:tag",
    "[::1]:5000/x",
    "quay.io/keycloak/keycloak:26.4",
    "x@sha256:" + "0".repeat(64),
  ])("%s is one", (ref) => expect(isImageReference(ref)).toBe(true));

  test.each([
    "",
    "Nginx",
    "nginx:",
    "nginx:-x",
    "a//b",
    "-a",
    "a:b:c",
    "x@sha256:abc",
    "x y",
    "x\ny",
    `${"a".repeat(256)}`,
    "a:" + "t".repeat(129),
  ])("%j is none", (ref) => expect(isImageReference(ref)).toBe(false));
});
