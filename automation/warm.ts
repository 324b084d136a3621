/** `cc-ci warm up|preview|destroy|status`: thin conveniences over `pulumi up -s warm`. */
import * as path from "node:path";
import { LocalWorkspace, Stack, type ConfigMap } from "@pulumi/pulumi/automation";
import { readStackFile } from "./runDefaults";
import { dockerClient, labelledObjects, removeObjects } from "./docker";
import { LABELS } from "../lib/naming";
import { warmPrefix } from "../components/warmLayer";
import { readWarmOutputs } from "../lib/contract";
import { loadEnv, privatePulumiHome, workspaceOptions, type CcciEnv } from "./env";
import { viaProxy } from "./http";
import { keycloakAnswers } from "./keycloakAdmin";

async function warmStack(env: CcciEnv, name: string): Promise<Stack> {
  const ws = await LocalWorkspace.create(await workspaceOptions(env, privatePulumiHome(env, "warm")));
  return Stack.createOrSelect(name, ws);
}

const out = (o: string): void => {
  process.stderr.write(o);
};

/**
 * Creates or updates the warm layer. A stack other than `warm` (a second layer, or the tests') starts
 * from Pulumi.warm.yaml's settings with `overrides` on top, written to its own stack config.
 */
export async function warmUp(
  name = "warm",
  env = loadEnv(),
  overrides?: Record<string, unknown>,
  onOutput = out,
): Promise<void> {
  const s = await warmStack(env, name);
  if (overrides) {
    const settings = { ...readStackFile(path.join(env.projectDir, "Pulumi.warm.yaml")), ...overrides };
    const config: ConfigMap = {};
    for (const [k, v] of Object.entries(settings))
      config[`cc-ci:${k}`] = { value: typeof v === "string" ? v : JSON.stringify(v) };
    await s.setAllConfig(config);
  }
  await s.up({ onOutput, color: "never" });
}

/** Exit-status-friendly preview: true when the warm layer matches its code and config. */
export async function warmPreview(
  name = "warm",
  env = loadEnv(),
  expectNoChanges = false,
  onOutput = out,
): Promise<boolean> {
  const s = await warmStack(env, name);
  try {
    await s.preview({ onOutput, color: "never", expectNoChanges });
    return true;
  } catch (e) {
    if (expectNoChanges) return false;
    throw e;
  }
}

export async function warmDestroy(
  name = "warm",
  env = loadEnv(),
  remove = false,
  onOutput = out,
): Promise<void> {
  const s = await warmStack(env, name);
  // An interrupted `up` can leave a created object its state never recorded, which can also keep a
  // recorded one (a secret, a network) in use: remove such objects — labelled as this layer's and of
  // no run — and destroy again.
  const docker = dockerClient();
  const layer = async () =>
    (await labelledObjects(docker, `${LABELS.stackNamespace}=${warmPrefix(name)}`)).filter(
      (o) => o.runId === "",
    );
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
    await s.destroy({ onOutput, color: "never" });
  }
  const left = await layer();
  if (left.length > 0)
    onOutput(
      `removing what the state did not record: ${left.map((o) => `${o.kind} ${o.name}`).join(", ")}\n`,
    );
  const failed = await removeObjects(docker, left);
  if (failed.length > 0)
    throw new Error(
      `could not remove: ${failed.map((f) => `${f.object.kind} ${f.object.name}: ${f.error}`).join("; ")}`,
    );
  if (remove) await s.workspace.removeStack(name);
}

export interface WarmStatus {
  exists: boolean;
  problems: string[];
  traefik?: boolean;
  keycloak?: boolean;
  keycloakUrl?: string;
  domain?: string;
}

export async function warmStatus(name = "warm", env = loadEnv()): Promise<WarmStatus> {
  const ws = await LocalWorkspace.create(await workspaceOptions(env, privatePulumiHome(env, "warm")));
  if (!(await ws.listStacks()).some((s) => s.name === name || s.name.endsWith(`/${name}`))) {
    return {
      exists: false,
      problems: [`no stack "${name}": run \`cc-ci warm up\` or \`pulumi up -s ${name}\``],
    };
  }
  const outputs = await (await Stack.select(name, ws)).outputs();
  const read = readWarmOutputs(Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value])));
  if (!read.ok) return { exists: true, problems: read.problems.map((p) => `${p.path}: ${p.message}`) };
  const traefik = await viaProxy(`http://health.${read.proxy.domain}/`, read.proxy).then(
    () => true,
    () => false,
  );
  const keycloak = read.keycloak ? await keycloakAnswers(read.keycloak.adminUrl) : false;
  return {
    exists: true,
    problems: read.problems.map((p) => `${p.path}: ${p.message}`),
    traefik,
    keycloak,
    keycloakUrl: read.keycloak?.publicUrl,
    domain: read.proxy.domain,
  };
}
