/**
 * An upgrade test (`cc-ci run --upgrade-from <ref|auto>`), as `abra app upgrade` takes a running app
 * from the version an operator runs to a new one: the base release is deployed in the run's stack
 * and realm, the pull request's `.cc-ci/upgrade/before` puts data in, then **the same stack** is
 * brought to the pull request's version with one `pulumi up` (services updated in place, volumes
 * kept, configs and secrets under the recipe's own versioned names), it converges again, and
 * `.cc-ci/upgrade/after` checks the data is still there; the tests follow. The upgrade's diff, as
 * Pulumi previews it, goes into the report; a volume the upgrade would replace or delete fails it
 * unless `.cc-ci/upgrade/volumes-lost` names it, and so does a config or secret whose content changed
 * without its version (Docker refuses that update, so abra's upgrade fails on it).
 */
import { execFileSync } from "node:child_process";
import type { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { ValidationError } from "../../../lib/errors";
import { RecipeFiles } from "../../../lib/recipe/files";
import { pulumiCli } from "../../adapters/pulumi";
import { mask } from "./artifacts";
import { deployRun, setRunConfig } from "./deploy";
import type { RunReport } from "./report";
import { runMasks } from "./teardown";
import { runTests } from "./tests";
import type { RunState, Validated } from "./state";

export const UPGRADE_DIR = ".cc-ci/upgrade";
/** A release tag of a Co-op Cloud recipe: `<recipe version>+<app version>`. */
const RELEASE_TAG = /^(\d+)\.(\d+)\.(\d+)\+[0-9A-Za-z._-]+$/;
const REF = /^[0-9A-Za-z._+][0-9A-Za-z._/+-]{0,99}$/;

export interface UpgradePlan {
  /** The base the run upgrades from (a commit or tag of the recipe's repository). */
  from: string;
  /** The base release's copy of the recipe, deployed first. */
  baseDir: string;
  base: Validated;
  target: Validated;
}

/** What `pulumi preview` says the upgrade does, by operation; the resources named as the program names them. */
export type UpgradeDiff = Record<string, string[]>;

const bad = (message: string) => new ValidationError("run", [{ path: "--upgrade-from", message }]);

function git(dir: string, args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 4 * 1024 * 1024,
  }).toString();
}

/**
 * The ref to upgrade from: `from` as given, or with `auto` the newest release tag
 * (`<x.y.z>+<app version>`, by its recipe version) reachable from `ref` (default HEAD) other than
 * one on `ref` itself — the release before the one under test.
 */
export function upgradeBase(recipeDir: string, from: string, ref = "HEAD"): string {
  if (from !== "auto") {
    if (!REF.test(from))
      throw bad(`${JSON.stringify(from.slice(0, 100))} is not a commit, branch or tag name`);
    return from;
  }
  let tags: string[];
  let here: Set<string>;
  try {
    tags = git(recipeDir, ["tag", "--merged", ref]).split("\n").filter(Boolean);
    here = new Set(git(recipeDir, ["tag", "--points-at", ref]).split("\n").filter(Boolean));
  } catch (e) {
    throw bad(
      `auto needs the recipe's git repository and its release tags (${(e as Error).message.split("\n")[0]})`,
    );
  }
  const version = (t: string) => (RELEASE_TAG.exec(t) ?? []).slice(1, 4).map(Number);
  const releases = tags
    .filter((t) => RELEASE_TAG.test(t) && !here.has(t))
    .sort((a, b) => {
      const [x, y] = [version(a), version(b)];
      return y[0] - x[0] || y[1] - x[1] || y[2] - x[2];
    });
  if (releases.length === 0)
    throw bad(
      `no earlier release tag (<x.y.z>+<app version>) is reachable from ${ref}: name the base with --upgrade-from`,
    );
  return releases[0];
}

/** Volumes the recipe says its upgrade may lose (`.cc-ci/upgrade/volumes-lost`: names, one a line). */
function volumesMayBeLost(copyDir: string): Set<string> {
  const r = new RecipeFiles(copyDir).read(`${UPGRADE_DIR}/volumes-lost`, 64 * 1024);
  if (!r.ok) return new Set();
  return new Set(
    r.text
      .split("\n")
      .map((l) => l.replace(/#.*/, "").trim())
      .filter(Boolean),
  );
}

/** The upgrade's steps as `pulumi preview --json` lists them, by operation (same resources left out). */
export function previewDiff(previewJson: string): UpgradeDiff {
  const steps = (JSON.parse(previewJson) as { steps?: { op: string; urn: string }[] }).steps ?? [];
  const diff: UpgradeDiff = {};
  for (const st of steps) {
    if (st.op === "same" || st.op === "read") continue;
    const parts = st.urn.split("::");
    const [type, name] = [parts[parts.length - 2] ?? "", parts[parts.length - 1] ?? ""];
    if (type.endsWith("pulumi:Stack")) continue;
    (diff[st.op] ??= []).push(`${type.split("$").pop()} ${name}`);
  }
  return diff;
}

/** The recipe's volumes the diff replaces or deletes (their data would be gone). */
export function lostVolumes(diff: UpgradeDiff): string[] {
  const ops = ["replace", "delete", "create-replacement", "delete-replaced"];
  const lost = ops.flatMap((op) => diff[op] ?? []).filter((r) => r.startsWith("docker:index/volume:Volume "));
  return [...new Set(lost.map((r) => r.split(" ")[1].replace(/^run-app-vol-/, "")))];
}

/**
 * Configs and secrets the diff replaces in place: their content changed under the same name (the
 * version not bumped). Docker refuses to change a config or secret, so `abra app upgrade` fails on
 * them; named by their Docker names.
 */
export function unbumped(diff: UpgradeDiff): string[] {
  const replaced = ["replace", "create-replacement", "delete-replaced"].flatMap((op) => diff[op] ?? []);
  const objects = replaced.filter((r) =>
    /^docker:index\/(serviceConfig:ServiceConfig|secret:Secret) /.test(r),
  );
  return [
    ...new Set(objects.map((r) => r.split(" ")[1].replace(/^run-app-(config|secret)-.*?-(?=run_)/, ""))),
  ];
}

/** One of the recipe's upgrade scripts in the sandbox, if the pull request has it; throws when it fails. */
async function upgradeScript(s: RunState, v: Validated, which: "before" | "after"): Promise<void> {
  const rel = `${UPGRADE_DIR}/${which}`;
  const files = new RecipeFiles(s.copyDir);
  if (!files.present(rel)) {
    s.clock.skip(`upgrade-${which}`, `the recipe has no ${rel}`);
    return;
  }
  const r = files.read(rel, 256 * 1024);
  if (!r.ok) throw new ValidationError("recipe", [{ path: "", file: rel, message: r.message }]);
  const secrets = runMasks(s);
  const say = (line: string) => s.say(mask(line, secrets));
  await s.clock.run(`upgrade-${which}`, () =>
    runTests(
      {
        docker: s.docker,
        copyDir: s.copyDir,
        command: [`/recipe/${rel}`],
        ci: v.model.ci,
        outputs: s.outputs ?? {},
        plan: v.plan,
        config: v.config,
      },
      v.defaults.sandbox,
      s.signals.abort.signal,
      say,
    ).then((c) => {
      if (c !== 0) throw new Error(`${rel} exited ${c}`);
    }),
  );
}

/**
 * From the deployed base to the pull request's version in the same stack: before-script, preview
 * (the diff; lost volumes fail it), `up`, then `ready` (converge, reachable, sso-ready) and the
 * after-script.
 */
export async function upgradeRun(
  s: RunState,
  u: UpgradePlan,
  stack: Stack,
  ready: (v: Validated) => Promise<void>,
): Promise<void> {
  await upgradeScript(s, u.base, "before");
  const report: NonNullable<RunReport["upgrade"]> = { from: u.from, diff: {} };
  s.report.upgrade = report;
  await s.clock.run("upgrade-preview", async () => {
    const ws = stack.workspace as LocalWorkspace;
    setRunConfig(ws, s.names.stack, u.target.stackConfig);
    const out = await pulumiCli(ws, ["preview", "--json", "--stack", s.names.stack]);
    report.diff = previewDiff(out);
    const same = unbumped(report.diff);
    if (same.length > 0)
      throw new Error(
        `${same.join(", ")}: the content changed but not the name (bump the version in .env.sample); Docker refuses to change a config or secret, so abra app upgrade fails the same way`,
      );
    const allowed = volumesMayBeLost(s.copyDir);
    const lost = lostVolumes(report.diff).filter((v) => !allowed.has(v));
    if (lost.length > 0)
      throw new Error(
        `the upgrade would lose volume${lost.length > 1 ? "s" : ""} ${lost.join(", ")} (replaced or deleted: their data is gone); if that is expected, name ${lost.length > 1 ? "them" : "it"} in ${UPGRADE_DIR}/volumes-lost`,
      );
  });
  s.outputs = await s.clock.run("upgrade", () =>
    deployRun(stack.workspace as LocalWorkspace, s.names.stack, s.say, s.signals.abort.signal),
  );
  s.validated = u.target;
  await ready(u.target);
  await upgradeScript(s, u.target, "after");
}
