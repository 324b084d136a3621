/**
 * cached_build (scripts/env/common.sh), the one way the Pulumi CLI, the provider plugins and the Go
 * helpers are built into the cache: reused when good, built beside the cache and renamed into place
 * only once it works, nothing half-made left when a build fails.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const COMMON = path.join(__dirname, "..", "..", "scripts", "env", "common.sh");

let cache: string;
beforeEach(() => {
  cache = mkdtempSync(path.join(tmpdir(), "ccci-cached-build-"));
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));

/** Sources common.sh with its cache in the test's folder, then runs `script` (errexit on, as the build scripts run). */
function sh(script: string, env: Record<string, string> = {}) {
  const r = spawnSync("bash", ["-c", `. "${COMMON}"\n${script}`], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CC_CI_CACHE: cache, ...env },
  });
  return { status: r.status, stderr: r.stderr };
}

const FNS = `
ok() { [ "$(cat "$1/thing" 2>/dev/null)" = good ]; }
good() { echo built >>"$CC_CI_CACHE/builds"; echo good >"$1/thing"; }
broken() { echo half >"$1/thing"; false; echo good >"$1/thing"; }
wrong() { echo bad >"$1/thing"; }
`;
const DEST = () => path.join(cache, "x", "thing-v1");
const builds = () =>
  existsSync(path.join(cache, "builds"))
    ? readFileSync(path.join(cache, "builds"), "utf8").split("\n").filter(Boolean).length
    : 0;

test("builds into DEST once, then reuses it; CACHED_BUILD_FORCE=1 builds again", () => {
  expect(sh(`${FNS} cached_build thing "${DEST()}" ok good`).status).toBe(0);
  expect(readFileSync(path.join(DEST(), "thing"), "utf8")).toBe("good\n");
  expect(sh(`${FNS} cached_build thing "${DEST()}" ok good`).status).toBe(0);
  expect(builds()).toBe(1);
  expect(sh(`${FNS} cached_build thing "${DEST()}" ok good`, { CACHED_BUILD_FORCE: "1" }).status).toBe(0);
  expect(builds()).toBe(2);
  // Nothing but the result and the lock beside it.
  expect(readdirSync(path.dirname(DEST())).sort()).toEqual([".thing.lock", "thing-v1"]);
});

test("a build whose step fails stops there (errexit holds inside it), dies naming it and leaves no DEST", () => {
  const r = sh(`${FNS} cached_build thing "${DEST()}" ok broken`);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/building thing failed \(exit 1\)/);
  expect(existsSync(DEST())).toBe(false);
  expect(readdirSync(path.dirname(DEST()))).toEqual([".thing.lock"]);
});

test("a build the check refuses is not put in place, and a good DEST is kept when a forced rebuild fails", () => {
  const r = sh(`${FNS} cached_build thing "${DEST()}" ok wrong`);
  expect({ status: r.status, said: /the freshly built thing does not work/.test(r.stderr) }).toEqual({
    status: 1,
    said: true,
  });
  expect(existsSync(DEST())).toBe(false);
  expect(sh(`${FNS} cached_build thing "${DEST()}" ok good`).status).toBe(0);
  expect(sh(`${FNS} cached_build thing "${DEST()}" ok broken`, { CACHED_BUILD_FORCE: "1" }).status).toBe(1);
  expect(readFileSync(path.join(DEST(), "thing"), "utf8")).toBe("good\n");
});

test("leftovers of a killed build are removed by the next one", () => {
  const left = path.join(path.dirname(DEST()), ".build-thing.XXXX");
  sh(`mkdir -p "${left}"`);
  expect(sh(`${FNS} cached_build thing "${DEST()}" ok good`).status).toBe(0);
  expect(existsSync(left)).toBe(false);
});
