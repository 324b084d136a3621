/**
 * Settings through the exact path a run takes, with the real Pulumi CLI: config written into the
 * stack's settings file as a run writes it (setRunConfig), handed to the program by the CLI, decoded by
 * the schema. Strings that JSON or YAML read as something else survive; and a whole run passes on a
 * state backend whose owner id reads as a number (issue 19), with a recipe named 2048.
 */
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import * as pulumi from "@pulumi/pulumi";
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  loadEnv,
  privatePulumiHome,
  removePulumiHome,
  workspaceOptions,
} from "../../automation/adapters/env";
import { setRunConfig } from "../../automation/commands/run/deploy";
import { decodeConfig, encodeConfig, RunConfig } from "../../lib/config";
import { ownerId } from "../../lib/naming";
import { AWKWARD_STRINGS, stringSettings, treeWith, valueAt } from "../helpers/stringSettings";
import {
  E2E_HOME,
  e2eEnv,
  example,
  explain,
  logTo,
  NUMBER_SHAPED_OWNER,
  numberShapedBackend,
  run,
} from "./harness";
import { describeE2E } from "./prereq";

/** What the program saw of its config in the last preview. */
let seen: Record<string, string> = {};

describeE2E("settings through the Automation API and the Pulumi CLI", () => {
  const env = e2eEnv();
  const home = `config-probe-${process.pid}`;
  const workDir = mkdtempSync(path.join(tmpdir(), "config-probe-"));
  const stackName = `probe-${randomBytes(3).toString("hex")}`;
  let ws: LocalWorkspace;

  beforeAll(async () => {
    ws = await LocalWorkspace.create({
      ...(await workspaceOptions(env, privatePulumiHome(env, home))),
      workDir,
      projectSettings: { name: "cc-ci-config-probe", runtime: "nodejs" },
      program: async () => {
        seen = pulumi.runtime.allConfig();
        return {};
      },
    });
    await ws.createStack(stackName);
  }, 120_000);

  afterAll(async () => {
    await ws?.removeStack(stackName, { force: true }).catch(() => undefined);
    removePulumiHome(env, home);
    rmSync(workDir, { recursive: true, force: true });
  });

  test("every awkward string reaches the program as set, and decodes to itself at every free-text place", async () => {
    // Top-level free-text places of a run's config (nested ones travel inside JSON: the unit tests).
    const places = stringSettings(RunConfig).filter((p) => p.length === 1);
    const rounds = Math.ceil(AWKWARD_STRINGS.length / places.length);
    for (let round = 0; round < rounds; round++) {
      const tree: Record<string, unknown> = {};
      places.forEach((p, i) =>
        Object.assign(
          tree,
          treeWith(p, AWKWARD_STRINGS[(round * places.length + i) % AWKWARD_STRINGS.length]),
        ),
      );
      // Every value as a top-level key of its own too, and all of them inside an object.
      AWKWARD_STRINGS.forEach((v, i) => (tree[`probe${i}`] = v));
      tree.env = Object.fromEntries(AWKWARD_STRINGS.map((v, i) => [`K${i}`, v]));
      const stack = await Stack.select(stackName, ws);
      const encoded = encodeConfig(tree);
      // As a run sets it: written into the settings file, the values of the round before gone.
      setRunConfig(ws, stackName, encoded);
      seen = {};
      await stack.preview({ color: "never" });

      expect(Object.keys(seen).length).toBeGreaterThan(0);
      const transported = Object.fromEntries(Object.keys(encoded).map((k) => [k, seen[k]]));
      expect(transported).toEqual(Object.fromEntries(Object.entries(encoded).map(([k, v]) => [k, v.value])));
      const decoded = decodeConfig(seen, "run");
      for (const p of places) expect([p[0], valueAt(decoded, p)]).toEqual([p[0], tree[p[0] as string]]);
      expect(decoded.env).toEqual(tree.env);
    }
  }, 300_000);
});

describeE2E("a run on a state backend whose owner id reads as a number", () => {
  // A backend of the test's own, its folder chosen so the owner id is digits (with at most one e).
  const base = path.join(E2E_HOME, "owner-number");
  const url = numberShapedBackend((i) => `file://${base}/state-${i}`);
  const state = url.slice("file://".length);

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  test("passes, with a recipe named 2048 and a commit ref 1e5, and leaves nothing", async () => {
    expect(ownerId(url)).toMatch(NUMBER_SHAPED_OWNER);
    mkdirSync(state, { recursive: true, mode: 0o700 });
    const ownEnv = loadEnv({ ...process.env, CC_CI_HOME: base, PULUMI_BACKEND_URL: url });
    // The recipe in a repository of its own, with a branch named 1e5 (a commit ref that reads as a number).
    const repo = path.join(base, "repo");
    cpSync(example("web"), repo, { recursive: true });
    const git = (...a: string[]) =>
      execFileSync("git", ["-C", repo, "-c", "user.name=ci", "-c", "user.email=ci@ci.test", ...a], {
        stdio: "ignore",
      });
    git("init", "-q");
    git("add", "-A");
    git("commit", "-qm", "recipe");
    git("branch", "1e5");
    const r = await run(
      {
        recipeDir: repo,
        recipe: "2048",
        ref: "1e5",
        sso: "off",
        // No warm layer in this backend: the run brings its own Traefik.
        warmStack: "no-such-warm-stack",
        log: logTo("owner-number"),
      },
      ownEnv,
    );
    expect({ outcome: r.outcome, report: r.outcome === "passed" ? "" : explain(r) }).toEqual({
      outcome: "passed",
      report: "",
    });
    expect(r.runId).toMatch(/^2048-[0-9a-f]{6}$/);
    expect([r.residue.docker, r.residue.stack ?? false]).toEqual([[], false]);
  }, 600_000);
});
