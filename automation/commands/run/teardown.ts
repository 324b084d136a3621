/**
 * After a run, whatever happened: destroy its stack (once more after a refresh if that fails),
 * remove the stack, and verify that nothing of the run is left — no Docker object with its label,
 * no realm, no stack.
 */
import { listUnits } from "../../../lib/deps/postgres";
import { listS3Units, s3Admin } from "../../../lib/deps/s3";
import { describeLeft } from "./report";
import type { DepPlan } from "../../../lib/deps/plan";
import type { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import type { RunNames } from "../../../lib/naming";
import type { SsoPlan } from "../../../lib/runPlan";
import {
  dockerClient,
  runObjects,
  sweepNodeVolumes,
  sweepTaskContainers,
  sweepWhile,
  unreachableNodes,
  untilGone,
  type DockerKind,
} from "../../adapters/docker";
import { provisioningAdmin } from "../../adapters/keycloak";
import { releaseSlot } from "../../adapters/leases";
import { pulumiCli, pulumiErrorSummary, selectStack } from "../../adapters/pulumi";
import { checkText, describePlan } from "../check";
import { collectArtifacts } from "./artifacts";
import { streamLines } from "./deploy";
import { removeRecipeCopy } from "./recipeCopy";
import type { RunReport } from "./report";
import { artifactsDir, type RunState } from "./state";

/**
 * Destroys the stack and removes it, in one CLI start (`destroy --remove`; the Automation API's
 * `destroy` reads the history back after, and removing is another start). On failure: waits for
 * what `settle` waits for (the run's containers gone: a removed service's container still holds
 * its networks a moment), cancels a stale lock, refreshes (clearing pending creates) and destroys
 * once more, leaving the removal to the caller. True when the stack is removed too.
 */
export async function destroyRun(
  stack: Stack,
  say: (l: string) => void,
  settle: () => Promise<unknown> = async () => undefined,
): Promise<boolean> {
  const onOutput = (o: string) => streamLines(o, say);
  const ws = stack.workspace as LocalWorkspace;
  try {
    await pulumiCli(
      ws,
      ["destroy", "--yes", "--remove", "--skip-preview", "--color", "never", "--stack", stack.name],
      onOutput,
    );
    return true;
  } catch (e) {
    say(`destroy failed (${(e as Error).message.split("\n")[0]}); refreshing and retrying once`);
    await settle().catch(() => undefined);
    await stack.cancel().catch(() => undefined);
    await stack.refresh({ clearPendingCreates: true, color: "never" }).catch(() => undefined);
    await stack.destroy({ onOutput, color: "never" });
    return false;
  }
}

/**
 * The run's realm on the warm Keycloak, made by cc-ci before the stack adopted it: gone after the
 * stack's destroy when the stack adopted it; removed here when the stack never did (its `up` failed
 * or was interrupted first).
 */
export async function removeRunRealm(sso: SsoPlan, realm: string): Promise<void> {
  if (sso.mode !== "warm") return;
  await provisioningAdmin(sso.keycloak).deleteRealm(realm);
}

/** What is left of a run; empty when the teardown was complete. */
export async function findResidue(
  ws: LocalWorkspace,
  names: RunNames,
  sso: SsoPlan | undefined,
  waitMs = 30_000,
  deps: DepPlan[] = [],
): Promise<RunReport["residue"]> {
  const docker = dockerClient();
  // Removed services' tasks take a few seconds to stop; wait for them before calling anything residue.
  const prefix = `${names.stackName}_`;
  const left = await untilGone((kinds) => runObjects(docker, names.runId, prefix, kinds), waitMs);
  const residue: RunReport["residue"] = {
    docker: left.map((o) => ({ kind: o.kind, name: o.name, ...(o.node ? { node: o.node } : {}) })),
  };
  if (sso?.mode === "warm") {
    if (await provisioningAdmin(sso.keycloak).realm(names.realm)) residue.realm = names.realm;
  }
  const units = await warmUnitsLeft(deps);
  if (units.length > 0) residue.units = units;
  // The run's own stack, selected by name: listing every stack would read other runs' files mid-write.
  residue.stack = (await selectStack(ws, names.stack)) !== undefined;
  const blind = await unreachableNodes(docker);
  if (blind.length > 0) residue.unchecked = blind.map((n) => `${n.node} (${n.state})`);
  return residue;
}

export function describeResidue(r: RunReport["residue"]): string {
  return describeLeft(r);
}

/** The run's units still on the warm dependencies (none after a complete teardown). */
async function warmUnitsLeft(deps: DepPlan[]): Promise<string[]> {
  const left: string[] = [];
  for (const d of deps) {
    if (d.kind === "oidc" || d.mode !== "warm" || !d.warm) continue;
    if (d.kind === "postgres") {
      const p = d.warm;
      const units = await listUnits({
        host: p.adminHost,
        port: p.adminPort,
        user: p.provisioning.user,
        password: p.provisioning.password,
      });
      if (units.some((u) => u.unit === d.unit)) left.push(`postgres ${d.unit}`);
    } else {
      const units = await listS3Units(s3Admin(d.warm));
      if (units.some((u) => u.unit === d.unit)) left.push(`s3 ${d.unit}`);
    }
  }
  return left;
}

/** A teardown step's failure, added to the run's error (the run goes on tearing down). */
function noteError(s: RunState, what: string): (e: Error) => void {
  return (e) => {
    s.report.error = [
      s.report.error,
      `${what}: ${what === "verify" ? e.message : pulumiErrorSummary(e, 2000)}`,
    ]
      .filter(Boolean)
      .join("\n");
  };
}

/**
 * The teardown phase, whatever failed before: the stack destroyed and removed, the realm gone, the
 * run verified to leave nothing — unless --keep-on-failure keeps a failed run — then everything the
 * run held given back (slot, claims, lease) and the signal handlers removed.
 */
export async function tearDown(s: RunState): Promise<void> {
  s.disk?.stop();
  // What people read after the run, while its services are still there.
  if (s.stack && !s.invalid)
    await s.clock.run("collect", () => collect(s)).catch(noteError(s, "collecting artifacts"));
  const failed = s.setupFailed || (s.report.testExitCode ?? 0) !== 0;
  const keep = s.args.keepOnFailure === true && failed && s.stack !== undefined;
  if (keep) {
    s.say(
      `kept for debugging: destroy with \`cc-ci audit --reap\` or \`pulumi destroy -s ${s.names.stack} --remove\``,
    );
    s.clock.skip("destroy", "--keep-on-failure");
  } else {
    await destroyStack(s);
    if (s.realmMade && s.validated)
      await removeRunRealm(s.validated.plan.sso, s.names.realm).catch(noteError(s, "teardown"));
    if (!s.invalid) await verify(s);
    s.work?.close();
    removeRecipeCopy(s.copyDir);
    if (s.upgrade) removeRecipeCopy(s.upgrade.baseDir);
  }
  await release(s);
}

/** The run's artifacts (logs, task history, test output, plan), masked with every secret the stack holds. */
async function collect(s: RunState): Promise<void> {
  const dir = artifactsDir(s.args, s.env.home, s.names.runId);
  const v = s.validated;
  const plan =
    v &&
    checkText({
      ok: true,
      recipe: s.report.recipe,
      runId: s.names.runId,
      appUrl: v.plan.appUrl,
      plan: describePlan(v.plan, v.model, v.depModels),
      problems: [],
      warnings: v.model.warnings,
    });
  const got = await collectArtifacts(s.docker, s.names.runId, dir, runMasks(s), s.testOutput, plan);
  // What the tests left in their /artifacts (copied when they ended): files of the recipe's, kept as they are.
  got.files.push(...s.testArtifacts.copied.map((f) => `test/${f}`));
  got.problems.push(...s.testArtifacts.problems);
  s.report.artifacts = got;
  s.say(`artifacts: ${got.files.length} files in ${got.dir}`);
  for (const p of got.problems) s.report.warnings.push(`artifacts: ${p}`);
}

/** Every secret value the run held (its stack's `masks` output), for masking what is kept of it. */
export function runMasks(s: RunState): string[] {
  const v = s.outputs?.masks?.value;
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

const CONTAINERS: ReadonlySet<DockerKind> = new Set<DockerKind>(["container"]);

/** destroy (and stack-remove, when the destroy did not remove it at once). */
async function destroyStack(s: RunState): Promise<void> {
  const { stack, work, clock, names } = s;
  if (!stack || !work) return;
  let removed = false;
  await clock
    .run("destroy", async () => {
      const containersGone = () =>
        untilGone(() => runObjects(s.docker, names.runId, undefined, CONTAINERS), 30_000);
      let destroying = true;
      const sweeping = sweepWhile(names.runId, () => destroying);
      try {
        removed = await destroyRun(stack, s.say, containersGone);
      } finally {
        destroying = false;
        await sweeping;
      }
      await sweepTaskContainers(names.runId);
      const failed = await sweepNodeVolumes(names.runId);
      if (failed.length > 0) throw new Error(failed.join("; "));
    })
    .then(() =>
      clock.run("stack-remove", async () => (removed ? undefined : work.ws.removeStack(names.stack))),
    )
    .catch(noteError(s, "teardown"));
}

/** Nothing of the run left: no Docker object with its label on any node, no realm, no stack. */
async function verify(s: RunState): Promise<void> {
  const { work, report } = s;
  if (!work) return;
  await s.clock
    .run("verify", async () => {
      const plan = s.validated?.plan;
      report.residue = await findResidue(work.ws, s.names, plan?.sso, undefined, plan?.deps);
      for (const n of report.residue.unchecked ?? [])
        report.warnings.push(
          `node ${n} could not be checked for what the run left there; \`cc-ci audit --reap\` removes it once the node is back`,
        );
      const left = describeResidue(report.residue);
      if (left) throw new Error(`the run left residue: ${left}`);
    })
    .catch(noteError(s, "verify"));
}

/** What the run held, given back: its slot, the pool's top-up, its claims, its lease. */
async function release(s: RunState): Promise<void> {
  if (s.slot) await releaseSlot(s.leases, s.names.runId, s.slot).catch(() => undefined);
  const topUpFailed = await s.topUp;
  if (topUpFailed) s.report.warnings.push(topUpFailed);
  await s.claims.releaseAll().catch(() => undefined);
  // A kept stack is protected by --max-age from here on, not by the lease of a process that ends.
  await s.lease.release().catch((e: Error) => s.report.warnings.push(`the run's lease: ${e.message}`));
  await s.leases.close().catch(() => undefined);
  s.signals.detach();
}
