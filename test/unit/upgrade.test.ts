/**
 * Upgrade tests' pieces that need no swarm: the base `auto` finds (the release before the one under
 * test, by recipe version, in the recipe's git repository), a base name that is not a ref, and the
 * upgrade's diff read from `pulumi preview --json` with the volumes it would lose.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { lostVolumes, previewDiff, unbumped, upgradeBase } from "../../automation/commands/run/upgrade";

function repo(tags: string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), "cc-ci-upgrade-"));
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@t", ...args], { stdio: "pipe" });
  git("init", "-q");
  tags.forEach((t, i) => {
    writeFileSync(path.join(dir, "compose.yml"), `# release ${i}\n`);
    git("add", ".");
    git("commit", "-qm", `release ${i}`);
    if (t) git("tag", t);
  });
  return dir;
}

describe("the base of an upgrade", () => {
  test("auto: the newest release tag before the commit under test, by recipe version", () => {
    const dir = repo(["1.2.0+2.0", "1.10.0+2.1", "1.9.0+2.1", "2.0.0+3.0"]);
    // HEAD is tagged 2.0.0+3.0: the one before it by version is 1.10.0, not 1.9.0 (newer commit).
    expect(upgradeBase(dir, "auto")).toBe("1.10.0+2.1");
    expect(upgradeBase(dir, "auto", "1.9.0+2.1")).toBe("1.10.0+2.1");
    expect(upgradeBase(dir, "auto", "1.10.0+2.1")).toBe("1.2.0+2.0");
  });

  test("auto on an untagged commit: the newest release; tags that are not releases are ignored", () => {
    expect(upgradeBase(repo(["1.0.0+1", "v2-beta", ""]), "auto")).toBe("1.0.0+1");
  });

  test("auto without an earlier release, or outside a repository: a problem naming --upgrade-from", () => {
    expect(() => upgradeBase(repo(["1.0.0+1"]), "auto")).toThrow(/no earlier release tag/);
    expect(() => upgradeBase(mkdtempSync(path.join(tmpdir(), "cc-ci-norepo-")), "auto")).toThrow(
      /auto needs the recipe's git repository/,
    );
  });

  test("a named base is taken as it is, if it is a ref name (no option, no space)", () => {
    expect(upgradeBase("/nowhere", "1.0.0+1")).toBe("1.0.0+1");
    expect(() => upgradeBase("/nowhere", "--upload-pack=x")).toThrow(/not a commit, branch or tag name/);
    expect(() => upgradeBase("/nowhere", "a b")).toThrow(/not a commit, branch or tag name/);
  });
});

describe("the upgrade's diff", () => {
  const urn = (type: string, name: string) =>
    `urn:pulumi:run-x::cc-ci::cc-ci:run:CiRun$cc-ci:app:RecipeApp$${type}::${name}`;
  const preview = JSON.stringify({
    steps: [
      { op: "same", urn: urn("docker:index/volume:Volume", "run-app-vol-data") },
      { op: "update", urn: urn("docker:index/service:Service", "run-app-svc-app") },
      { op: "create", urn: urn("docker:index/serviceConfig:ServiceConfig", "run-app-config-conf") },
      { op: "delete", urn: urn("docker:index/serviceConfig:ServiceConfig", "run-app-config-old") },
      { op: "delete", urn: urn("docker:index/volume:Volume", "run-app-vol-cache") },
      { op: "replace", urn: urn("docker:index/volume:Volume", "run-app-vol-db") },
      { op: "update", urn: "urn:pulumi:run-x::cc-ci::pulumi:pulumi:Stack::cc-ci-run-x" },
    ],
  });

  test("by operation, unchanged resources and the stack left out", () => {
    expect(previewDiff(preview)).toEqual({
      update: ["docker:index/service:Service run-app-svc-app"],
      create: ["docker:index/serviceConfig:ServiceConfig run-app-config-conf"],
      delete: [
        "docker:index/serviceConfig:ServiceConfig run-app-config-old",
        "docker:index/volume:Volume run-app-vol-cache",
      ],
      replace: ["docker:index/volume:Volume run-app-vol-db"],
    });
  });

  test("a config or secret replaced in place (content changed, version not): named by its Docker name", () => {
    const diff = {
      replace: [
        "docker:index/serviceConfig:ServiceConfig run-app-config-conf-run_x_conf_v1",
        "docker:index/secret:Secret run-app-secret-db_password-run_x_db_password_v1",
        "docker:index/volume:Volume run-app-vol-db",
      ],
      create: ["docker:index/serviceConfig:ServiceConfig run-app-config-other-run_x_other_v2"],
    };
    expect(unbumped(diff)).toEqual(["run_x_conf_v1", "run_x_db_password_v1"]);
    expect(unbumped(previewDiff(preview))).toEqual([]);
  });

  test("the volumes it would lose, by the recipe's names", () => {
    expect(lostVolumes(previewDiff(preview)).sort()).toEqual(["cache", "db"]);
    expect(lostVolumes({ update: ["docker:index/volume:Volume run-app-vol-data"] })).toEqual([]);
  });
});
