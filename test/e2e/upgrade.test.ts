/**
 * Upgrade tests on a real swarm: a recipe's git repository with two releases (test/fixtures/upgrade:
 * the second bumps its config's version, changes its content and adds an overlay). `--upgrade-from
 * auto` deploys the first release, its `before` stores a note in the app's volume, the same stack is
 * brought to the second with one `pulumi up`, and `after` finds the note and the new version; the
 * report has the diff. A second release that drops the volume fails the upgrade before it is applied,
 * naming the volume, and leaves nothing.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describeE2E } from "./prereq";
import { e2eEnv, ensureWarm, explain, run } from "./harness";

const FIXTURE = path.join(__dirname, "..", "fixtures", "upgrade");

/** The fixture as a git repository: release 1.0.0+1 committed and tagged, the next one on top. */
function releases(second: (dir: string) => void): string {
  const dir = mkdtempSync(path.join(tmpdir(), "cc-ci-upgrade-"));
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", dir, "-c", "user.name=ci", "-c", "user.email=ci@ci.test", ...args], {
      stdio: "pipe",
    });
  const put = (from: string, to = from) => copyFileSync(path.join(FIXTURE, from), path.join(dir, to));
  git("init", "-q");
  put("compose.yml");
  put("store.pl");
  put("env.sample.1", ".env.sample");
  git("add", ".");
  git("commit", "-qm", "1.0.0+1");
  git("tag", "1.0.0+1");
  mkdirSync(path.join(dir, ".cc-ci", "upgrade"), { recursive: true });
  for (const s of ["before", "after"]) {
    put(s, `.cc-ci/upgrade/${s}`);
    chmodSync(path.join(dir, ".cc-ci", "upgrade", s), 0o755);
  }
  put("compose.extra.yml");
  put("env.sample.2", ".env.sample");
  const pl = readFileSync(path.join(FIXTURE, "store.pl"), "utf8").replace(
    "the first release",
    "the second release",
  );
  writeFileSync(path.join(dir, "store.pl"), pl);
  second(dir);
  git("add", ".");
  git("commit", "-qm", "the next release");
  return dir;
}

describeE2E("upgrades", () => {
  beforeAll(() => ensureWarm(e2eEnv()), 600_000);

  test("from the previous release to the pull request's: the same stack, the data kept, the diff reported", async () => {
    const dir = releases(() => undefined);
    try {
      const r = await run({ recipeDir: dir, recipe: "store", upgradeFrom: "auto", sso: "off" });
      expect({ outcome: r.outcome, why: r.outcome === "passed" ? "" : explain(r) }).toEqual({
        outcome: "passed",
        why: "",
      });
      const phases = r.phases.map((p) => `${p.name} ${p.outcome}`);
      expect(phases).toEqual(
        expect.arrayContaining(["upgrade-before ok", "upgrade-preview ok", "upgrade ok", "upgrade-after ok"]),
      );
      expect(r.upgrade?.from).toBe("1.0.0+1");
      const diff = r.upgrade?.diff ?? {};
      // The service updated in place; the config's new version made, the old one gone; the volume untouched.
      expect(diff.update).toEqual(
        expect.arrayContaining([expect.stringMatching(/^docker:index\/service:Service /)]),
      );
      const made = [...(diff.create ?? []), ...(diff.replace ?? []), ...(diff["create-replacement"] ?? [])];
      expect(made).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/ServiceConfig run-app-config-store_pl-\S+_store_pl_v2$/),
        ]),
      );
      expect(JSON.stringify(diff)).not.toMatch(/volume:Volume/);
      expect(r.residue).toEqual({ docker: [], stack: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 900_000);

  test("a release that drops the volume fails the upgrade before it is applied, naming the volume", async () => {
    const dir = releases((d) => {
      const compose = readFileSync(path.join(d, "compose.yml"), "utf8")
        .replace("    volumes:\n      - data:/data\n", "")
        .replace("volumes:\n  data:\n\n", "");
      writeFileSync(path.join(d, "compose.yml"), compose);
    });
    try {
      const r = await run({ recipeDir: dir, recipe: "store", upgradeFrom: "auto", sso: "off" });
      expect([r.outcome, r.exitCode]).toEqual(["setup-failed", 80]);
      expect(r.error).toMatch(/the upgrade would lose volume data .*\.cc-ci\/upgrade\/volumes-lost/);
      expect(r.phases.find((p) => p.name === "upgrade-preview")?.outcome).toBe("failed");
      expect(r.phases.map((p) => p.name)).not.toContain("upgrade");
      expect(r.upgrade?.diff.delete).toEqual(
        expect.arrayContaining(["docker:index/volume:Volume run-app-vol-data"]),
      );
      expect(r.residue).toEqual({ docker: [], stack: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 900_000);
});
