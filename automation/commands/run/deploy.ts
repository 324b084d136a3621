/**
 * The stack of one run: created in its own workspace with the prepared config, brought up with
 * progress streamed, and its outputs handed back for the phases after it.
 */
import { Stack, type LocalWorkspace } from "@pulumi/pulumi/automation";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { SECRET_CONFIG_ENV, type ConfigEntry } from "../../../lib/config";
import { settingsYaml } from "../../../lib/configCodec";
import { OUTPUTS_FILE_ENV, takeHandedOutputs } from "../../../lib/handedOutputs";
import { shortStackName } from "../../../lib/naming";
import { parse as parseYaml } from "yaml";
import { asStackOutputs, pulumiCli, stackOutputs, type StackOutputs } from "../../adapters/pulumi";

/** Creates the run's stack (it must not exist: run ids are unique) and sets its config. */
export async function createRunStack(
  ws: LocalWorkspace,
  stackName: string,
  config: Record<string, ConfigEntry>,
): Promise<Stack> {
  const stack = await Stack.create(stackName, ws);
  setRunConfig(ws, stackName, config);
  return stack;
}

/**
 * A run stack's whole config, without a CLI start: the plain values written into its settings file
 * (Pulumi.<stack>.yaml, beside what `stack init` put there: the salt of the passphrase's key), each
 * key and value double-quoted so none reads as a number, a boolean or a date; the secret ones put in
 * the workspace's environment (SECRET_CONFIG_ENV), which every CLI it starts afterwards gets — the
 * `up` that runs the program with them. A value set before and not in `config` is gone. (`config
 * set-all` cost a CLI start and a derivation of the passphrase's key per run.)
 */
export function setRunConfig(
  ws: LocalWorkspace,
  stackName: string,
  config: Record<string, ConfigEntry>,
): void {
  const file = path.join(ws.workDir, `Pulumi.${shortStackName(stackName)}.yaml`);
  const before: unknown = existsSync(file) ? parseYaml(readFileSync(file, "utf8")) : {};
  const settings = { ...(before !== null && typeof before === "object" ? before : {}) } as Record<
    string,
    unknown
  >;
  const plain: Record<string, string> = {};
  const secret: Record<string, string> = {};
  for (const [k, e] of Object.entries(config)) (e.secret ? secret : plain)[k] = e.value;
  settings.config = plain;
  writeFileSync(file, settingsYaml(settings), { mode: 0o600 });
  if (Object.keys(secret).length > 0) ws.envVars[SECRET_CONFIG_ENV] = JSON.stringify(secret);
  else delete ws.envVars[SECRET_CONFIG_ENV];
}

/**
 * `pulumi up`, streamed line by line, then its outputs as the program handed them over
 * (lib/handedOutputs.ts): one CLI start (the Automation API's `up` takes four, reading back the
 * outputs twice and the history); aborting the signal cancels it.
 */
export async function deployRun(
  ws: LocalWorkspace,
  stackName: string,
  say: (l: string) => void,
  signal: AbortSignal,
): Promise<StackOutputs> {
  const args = ["up", "--yes", "--skip-preview", "--color", "never", "--stack", stackName];
  const handed = ws.pulumiHome ? path.join(ws.pulumiHome, "run-outputs.json") : undefined;
  if (handed) {
    rmSync(handed, { force: true });
    ws.envVars[OUTPUTS_FILE_ENV] = handed;
  }
  await pulumiCli(ws, args, (o) => streamLines(o, say), signal);
  const values = handed ? takeHandedOutputs(handed) : undefined;
  const outputs = values ? asStackOutputs(values) : await stackOutputs(ws, stackName);
  if (!outputs) throw new Error(`stack ${stackName} is gone after its update`);
  return outputs;
}

export function streamLines(text: string, say: (l: string) => void): void {
  for (const line of text.split("\n")) if (line.trim() !== "") say(line.replace(/\s+$/, ""));
}
