/**
 * After a run, whatever happened: destroy its stack (once more after a refresh if that fails),
 * remove the stack, and verify that nothing of the run is left — no Docker object with its label,
 * no realm, no stack.
 */
import type { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import type { RunNames } from "../../../lib/naming";
import type { SsoPlan } from "../../../lib/runPlan";
import { dockerClient, runObjects, unreachableNodes, untilGone } from "../../adapters/docker";
import { provisioningAdmin } from "../../adapters/keycloak";
import { pulumiCli, selectStack } from "../../adapters/pulumi";
import { streamLines } from "./deploy";
import type { RunReport } from "./report";

/**
 * Destroys the stack and removes it, in one CLI start (`destroy --remove`; the Automation API's
 * `destroy` reads the history back after, and removing is another start). On failure: cancels a
 * stale lock, refreshes (clearing pending creates) and destroys once more, leaving the removal to
 * the caller. True when the stack is removed too.
 */
export async function destroyRun(stack: Stack, say: (l: string) => void): Promise<boolean> {
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
): Promise<RunReport["residue"]> {
  const docker = dockerClient();
  // Removed services' tasks take a few seconds to stop; wait for them before calling anything residue.
  const prefix = `${names.stackName}_`;
  const left = await untilGone(() => runObjects(docker, names.runId, prefix), waitMs);
  const residue: RunReport["residue"] = {
    docker: left.map((o) => ({ kind: o.kind, name: o.name, ...(o.node ? { node: o.node } : {}) })),
  };
  if (sso?.mode === "warm") {
    if (await provisioningAdmin(sso.keycloak).realm(names.realm)) residue.realm = names.realm;
  }
  // The run's own stack, selected by name: listing every stack would read other runs' files mid-write.
  residue.stack = (await selectStack(ws, names.stack)) !== undefined;
  const blind = await unreachableNodes(docker);
  if (blind.length > 0) residue.unchecked = blind.map((n) => `${n.node} (${n.state})`);
  return residue;
}

export function describeResidue(r: RunReport["residue"]): string {
  return [
    ...r.docker.map((d) => `${d.kind} ${d.name}${d.node ? ` on ${d.node}` : ""}`),
    ...(r.realm ? [`realm ${r.realm}`] : []),
    ...(r.stack ? ["stack"] : []),
  ].join(", ");
}
