/**
 * The stack of one run: created in its own workspace with the prepared config, brought up with
 * progress streamed, and its outputs read back for the phases after it.
 */
import { Stack, type LocalWorkspace, type OutputMap } from "@pulumi/pulumi/automation";
import type { ConfigEntry } from "../../lib/config";

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

/** `pulumi up`, streamed line by line; aborting the signal cancels it. */
export async function deployRun(
  stack: Stack,
  say: (l: string) => void,
  signal: AbortSignal,
): Promise<OutputMap> {
  const r = await stack.up({ onOutput: (o) => streamLines(o, say), color: "never", signal });
  return r.outputs;
}

export function streamLines(text: string, say: (l: string) => void): void {
  for (const line of text.split("\n")) if (line.trim() !== "") say(line.replace(/\s+$/, ""));
}
