/** `cc-ci warm up|preview|destroy|status`: thin conveniences over `pulumi up -s warm`. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Stack } from "@pulumi/pulumi/automation";
import { encodeConfig, readStackFile, readWarmSettings } from "../../lib/config";
import { formatProblem } from "../../lib/errors";
import { LABELS, warmPrefix, WARM_STACK } from "../../lib/naming";
import { audit } from "./audit";
import {
  dockerClient,
  labelledObjects,
  networkUsers,
  removeObjects,
  staleAttachment,
  startGateways,
  untilGone,
} from "../adapters/docker";
import { loadEnv, type CcciEnv } from "../adapters/env";
import { proxyAnswers } from "../adapters/http";
import { provisioningAdmin, provisioningProblem } from "../adapters/keycloak";
import { fillPool } from "../adapters/realmPool";
import { seedRegistry } from "../adapters/registry";
import {
  homeName,
  previewDrift,
  pulumiErrorSummary,
  readWarm,
  selectStack,
  withWorkspace,
  type Drift,
} from "../adapters/pulumi";

const out = (o: string): void => {
  process.stderr.write(o);
};

/**
 * A stack's settings file keeps the salt of its secrets' passphrase; when the stack is not in this
 * backend (made on another, or destroyed and removed), the salt belongs to no stack and would make
 * Pulumi refuse the passphrase: it goes, and the new stack writes its own.
 */
function forgetStaleSalt(env: CcciEnv, name: string, say: (s: string) => void): void {
  const file = path.join(env.projectDir, `Pulumi.${name}.yaml`);
  if (!existsSync(file)) return;
  const text = readFileSync(file, "utf8");
  if (!/^encryptionsalt:/m.test(text)) return;
  writeFileSync(file, text.replace(/^encryptionsalt:.*\n?/m, ""));
  say(`${path.basename(file)}: dropped the salt of a stack this backend does not have\n`);
}

/**
 * Creates or updates the warm layer. A stack other than `warm` (a second layer, or the tests') starts
 * from Pulumi.warm.yaml's settings with `overrides` on top, written to its own stack config.
 */
export async function warmUp(
  name = WARM_STACK,
  env = loadEnv(),
  overrides?: Record<string, unknown>,
  onOutput = out,
): Promise<void> {
  await withWorkspace(env, homeName("warm"), async (ws) => {
    if (!(await selectStack(ws, name))) forgetStaleSalt(env, name, onOutput);
    const s = await Stack.createOrSelect(name, ws);
    if (overrides) {
      const file = path.join(env.projectDir, "Pulumi.warm.yaml");
      readWarmSettings(file, overrides); // every problem of the merged settings, before any change
      await s.setAllConfig(encodeConfig({ ...readStackFile(file), ...overrides }));
    }
    // A Docker restart leaves the admin gateways stopped (Docker does not start them: see
    // components/adminGateway.ts); started before the refresh, which would otherwise find them gone.
    const started = await startGateways(dockerClient(), warmPrefix(name));
    if (started.length > 0) onOutput(`started the layer's stopped gateways: ${started.join(", ")}\n`);
    // Refreshed first, so that `warm up` also repairs what changed behind Pulumi's back.
    try {
      await s.up({ onOutput, color: "never", refresh: true });
    } catch (e) {
      // Keycloak's own objects (the provisioning client and its role) are refreshed through
      // Keycloak: when its service is gone (removed by hand, or a swarm made anew) that refresh
      // fails, and with it the repair. The Docker objects are refreshed alone, the layer brought
      // up (Keycloak again, on its database's volume), then refreshed and brought up as a whole.
      if (!/provider=keycloak@/.test(pulumiErrorSummary(e, 4000))) throw e;
      onOutput(
        "Keycloak does not answer: refreshing the layer's Docker objects alone, then bringing it up\n",
      );
      const resources = (await s.exportStack()).deployment.resources as {
        type: string;
        urn: string;
        id?: string;
      }[];
      // Plain containers (the admin gateway) outlive the swarm networks they joined: removed, so the
      // refresh below finds them gone and the `up` makes them anew (their names are fixed).
      const engine = dockerClient();
      for (const r of resources.filter((x) => x.type === "docker:index/container:Container" && x.id))
        await engine
          .getContainer(r.id as string)
          .remove({ force: true })
          .catch(() => undefined);
      const docker = resources.filter((r) => r.type.startsWith("docker:")).map((r) => r.urn);
      await s.refresh({ onOutput, color: "never", target: docker });
      await s.up({ onOutput, color: "never" });
      await s.up({ onOutput, color: "never", refresh: true });
    }
    // The registry's images are not Pulumi's: pushed here, after every up (a rebuilt image goes again).
    const warm = await readWarm(ws, name);
    if (warm.registry) await seedRegistry(dockerClient(), warm.registry, onOutput);
    // The realm pool lives in Keycloak, not in the stack: filled here, topped up by runs.
    const read = warm.read;
    if (read?.ok && read.keycloak && read.keycloak.realmPool > 0) {
      const made = await fillPool(provisioningAdmin(read.keycloak), name, read.keycloak.realmPool);
      onOutput(`realm pool: ${made} realm(s) made, ${read.keycloak.realmPool} ready\n`);
    }
  });
}

/** `pulumi preview` of the warm layer; with `expectNoChanges`, whether it has drifted (refreshing first). */
export async function warmPreview(
  name = WARM_STACK,
  env = loadEnv(),
  expectNoChanges = false,
  onOutput = out,
): Promise<Drift> {
  return withWorkspace(env, homeName("warm"), async (ws) => {
    const s = await Stack.select(name, ws);
    if (expectNoChanges) return previewDrift(s, onOutput);
    await s.preview({ onOutput, color: "never" });
    return { drift: false };
  });
}

export async function warmDestroy(
  name = WARM_STACK,
  env = loadEnv(),
  remove = false,
  onOutput = out,
): Promise<void> {
  await withWorkspace(env, homeName("warm"), async (ws) => {
    const s = await Stack.select(name, ws);
    // An interrupted `up` can leave a created object its state never recorded, which can also keep a
    // recorded one (a secret, a network) in use: remove such objects — labelled as this layer's and of
    // no run — and destroy again.
    const docker = dockerClient();
    const layer = async () =>
      (await labelledObjects(docker, `${LABELS.stackNamespace}=${warmPrefix(name)}`)).filter(
        (o) => o.runId === "",
      );
    // Runs' services join the layer's proxy networks and would keep them in use: stale runs (by the
    // audit's rules) are reaped first; a layer a live run still uses is refused, naming the run.
    const users = async () => {
      const own = `${warmPrefix(name)}_`;
      const nets = (await layer()).filter((o) => o.kind === "network");
      const all = await Promise.all(nets.map((n) => networkUsers(docker, n.id, (u) => u.startsWith(own))));
      return [...new Set(all.flat())];
    };
    if ((await users()).length > 0) {
      onOutput(`runs still use the warm layer "${name}": reaping the stale ones first\n`);
      await audit(env, { reap: true, drift: false, warmStack: name, log: (l) => onOutput(`${l}\n`) });
      const left = await users();
      if (left.length > 0)
        throw new Error(
          `the warm layer "${name}" is still in use by ${left.join(", ")}: let those runs end (or reap them with \`cc-ci audit --reap\`), then destroy it`,
        );
    }
    try {
      await s.destroy({ onOutput, color: "never" });
    } catch (e) {
      onOutput(
        `destroy failed (${(e as Error).message.split("\n")[0]}); removing the layer's services directly, then retrying\n`,
      );
      await removeObjects(
        docker,
        (await layer()).filter((o) => o.kind === "service"),
      );
      await s.refresh({ onOutput, color: "never" });
      await s.destroy({ onOutput, color: "never" }).catch(async (again: Error) => {
        // A network no removal can free: say what holds it and what releases it.
        const stale = await staleAttachment(docker, again.message);
        if (stale) throw new Error(`the warm layer "${name}" cannot be destroyed: ${stale}`);
        throw again;
      });
    }
    // The swarm finishes what Pulumi deleted a moment later (tasks stop, networks go): what is still
    // there after that is what the state did not record.
    const left = await untilGone(layer, 10_000);
    if (left.length > 0) {
      onOutput(
        `removing what the state did not record: ${left.map((o) => `${o.kind} ${o.name}`).join(", ")}\n`,
      );
      const failed = await removeObjects(docker, left);
      if (failed.length > 0)
        throw new Error(
          `could not remove: ${failed.map((f) => `${f.object.kind} ${f.object.name}: ${f.error}`).join("; ")}`,
        );
      const still = await untilGone(layer, 30_000);
      if (still.length > 0)
        throw new Error(`still there after removal: ${still.map((o) => `${o.kind} ${o.name}`).join(", ")}`);
    }
    if (remove) {
      // Pulumi's `stack rm` deletes Pulumi.<stack>.yaml, which for `warm` is the operator's settings
      // (Pulumi.warm.yaml): kept, without the salt of the stack that is gone.
      await ws.removeStack(name, { preserveConfig: true });
      forgetStaleSalt(env, name, () => undefined);
    }
  });
}

export interface WarmStatus {
  exists: boolean;
  problems: string[];
  traefik?: boolean;
  keycloak?: boolean;
  keycloakUrl?: string;
  domain?: string;
}

/** Whether the warm layer is there, speaks the contract, and answers (Traefik, Keycloak). */
export async function warmStatus(name = WARM_STACK, env = loadEnv()): Promise<WarmStatus> {
  const warm = await withWorkspace(env, homeName("warm"), (ws) => readWarm(ws, name));
  if (!warm.exists || !warm.read)
    return {
      exists: false,
      problems: [`no stack "${name}": run \`cc-ci warm up\` or \`pulumi up -s ${name}\``],
    };
  const read = warm.read;
  if (!read.ok) return { exists: true, problems: read.problems.map(formatProblem) };
  const problems = read.problems.map(formatProblem);
  // Healthy means what a run needs of it: the provisioning client gets in and lists its realms.
  const kcProblem = read.keycloak ? await provisioningProblem(read.keycloak) : undefined;
  if (kcProblem) problems.push(`keycloak: cannot make realms: ${kcProblem}`);
  return {
    exists: true,
    problems,
    traefik: await proxyAnswers(read.proxy),
    keycloak: read.keycloak !== undefined && kcProblem === undefined,
    keycloakUrl: read.keycloak?.publicUrl,
    domain: read.proxy.domain,
  };
}
