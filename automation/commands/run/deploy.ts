/**
 * The stack of one run: created in its own workspace with the prepared config, brought up with
 * progress streamed, and its outputs read back for the phases after it.
 */
import { Stack, type LocalWorkspace } from "@pulumi/pulumi/automation";
import type { ConfigEntry } from "../../../lib/config";
import { pulumiCli, stackOutputs, type StackOutputs } from "../../adapters/pulumi";

/** Creates the run's stack (it must not exist: run ids are unique) and sets its config. */
export async function createRunStack(
  ws: LocalWorkspace,
  stackName: string,
  config: Record<string, ConfigEntry>,
): Promise<Stack> {
  const stack = await Stack.create(stackName, ws);
  await stack.setAllConfig(config);
  return stack;
}

/**
 * `pulumi up`, streamed line by line, then its outputs: two CLI starts (the Automation API's `up`
 * takes four, reading back the outputs twice and the history); aborting the signal cancels it.
 */
export async function deployRun(
  ws: LocalWorkspace,
  stackName: string,
  say: (l: string) => void,
  signal: AbortSignal,
): Promise<StackOutputs> {
  const args = ["up", "--yes", "--skip-preview", "--color", "never", "--stack", stackName];
  await pulumiCli(ws, args, (o) => streamLines(o, say), signal);
  const outputs = await stackOutputs(ws, stackName);
  if (!outputs) throw new Error(`stack ${stackName} is gone after its update`);
  return outputs;
}

export function streamLines(text: string, say: (l: string) => void): void {
  for (const line of text.split("\n")) if (line.trim() !== "") say(line.replace(/\s+$/, ""));
}
