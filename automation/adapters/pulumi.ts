/**
 * The Automation API plumbing every command shares: a workspace in a private Pulumi home that is
 * always removed afterwards, finding and selecting stacks (typed errors caught by class), reading
 * the warm layer's contract, and the drift check. Commands (run, warm, audit, doctor, bench) use
 * these instead of talking to LocalWorkspace themselves.
 */
import {
  CommandError,
  ConcurrentUpdateError,
  LocalWorkspace,
  Stack,
  StackAlreadyExistsError,
  StackNotFoundError,
  type StackSummary,
} from "@pulumi/pulumi/automation";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import * as path from "node:path";
import { readWarmOutputs, type ContractRead, type RegistryOutputs } from "../../lib/contract";
import { shortStackName, stackFqn } from "../../lib/naming";
import { foundHelpersEnv } from "../../lib/recipe/helpers";
import { privatePulumiHome, removePulumiHome, workspaceOptions, type CcciEnv } from "./env";

export { ConcurrentUpdateError, StackAlreadyExistsError, StackNotFoundError };

/** A workspace in a Pulumi home of its own, and how to give that home back. */
export interface OpenWorkspace {
  ws: LocalWorkspace;
  home: string;
  close(): void;
}

/**
 * Opens a workspace in the private Pulumi home `name` (parallel commands never share a
 * workspace.json). The caller must `close()` it, in a `finally`.
 */
export async function openWorkspace(env: CcciEnv, name: string): Promise<OpenWorkspace> {
  const home = privatePulumiHome(env, name);
  try {
    const ws = await LocalWorkspace.create(await workspaceOptions(env, home));
    return { ws, home, close: () => removePulumiHome(env, name) };
  } catch (e) {
    removePulumiHome(env, name);
    throw e;
  }
}

/** Runs `fn` with a workspace in a private Pulumi home, removed afterwards whatever happens. */
export async function withWorkspace<T>(
  env: CcciEnv,
  name: string,
  fn: (ws: LocalWorkspace) => Promise<T>,
): Promise<T> {
  const open = await openWorkspace(env, name);
  try {
    return await fn(open.ws);
  } finally {
    open.close();
  }
}

/** A unique home name for a one-off command, so two at once never share one. */
export function homeName(purpose: string): string {
  return `${purpose}-${process.pid}-${Date.now().toString(36)}`;
}

/** True when `summary` is the stack `name` (short or fully qualified). */
export function isStack(summary: { name: string }, name: string): boolean {
  return summary.name === name || summary.name === stackFqn(name) || shortStackName(summary.name) === name;
}

/**
 * The project's stacks (`pulumi stack ls`). On a file backend the listing reads every stack's
 * attributes file, and one that a concurrent run is rewriting at that moment reads as empty
 * (`error: EOF`): such a listing is tried again, a few times.
 */
export async function stackList(ws: LocalWorkspace, attempts = 6): Promise<StackSummary[]> {
  for (let i = 1; ; i++) {
    try {
      return await ws.listStacks();
    } catch (e) {
      if (i >= attempts || !isTornRead(e)) throw e;
      // A CLI killed mid-write leaves its stack's attributes file empty for good: past the first
      // retry, such files are removed (a listing cache; the checkpoint beside each is the truth).
      if (i >= 2) removeEmptyStackAttrs(ws.envVars?.PULUMI_BACKEND_URL);
      await new Promise((r) => setTimeout(r, 150 * i));
    }
  }
}

/**
 * On a file backend, the empty `*.attrs` files (Pulumi's per-stack listing cache, which `stack ls`
 * cannot parse when empty) not written for `quietMs`; returns the files removed.
 */
export function removeEmptyStackAttrs(
  backendUrl: string | undefined,
  now = Date.now(),
  quietMs = 2000,
): string[] {
  if (!backendUrl?.startsWith("file:///")) return [];
  const stacks = path.join(decodeURIComponent(new URL(backendUrl).pathname), ".pulumi", "stacks");
  if (!existsSync(stacks)) return [];
  const removed: string[] = [];
  for (const project of readdirSync(stacks, { withFileTypes: true })) {
    if (!project.isDirectory()) continue;
    for (const f of readdirSync(path.join(stacks, project.name))) {
      if (!f.endsWith(".attrs")) continue;
      const file = path.join(stacks, project.name, f);
      const st = statSync(file, { throwIfNoEntry: false });
      if (st?.isFile() && st.size === 0 && now - st.mtimeMs > quietMs) {
        rmSync(file, { force: true });
        removed.push(file);
      }
    }
  }
  return removed;
}

/** A read of a file another process was writing at that moment (Pulumi: `error: EOF`). */
export function isTornRead(e: unknown): boolean {
  return /\berror: (unexpected )?EOF\b/.test(e instanceof Error ? e.message : String(e));
}

/** Selects a stack, or undefined when it does not exist. */
export async function selectStack(ws: LocalWorkspace, name: string): Promise<Stack | undefined> {
  try {
    return await Stack.select(name, ws);
  } catch (e) {
    if (e instanceof StackNotFoundError) return undefined;
    throw e;
  }
}

/** The warm stack as a run or an audit sees it: whether it exists, and its outputs against the contract. */
export interface WarmRead {
  stack: string;
  exists: boolean;
  read?: ContractRead;
  /** The layer's image registry, when it has one (not part of the run contract). */
  registry?: RegistryOutputs;
}

/** Reads the warm stack's outputs and checks them against the contract (lib/contract.ts). */
export async function readWarm(ws: LocalWorkspace, name: string): Promise<WarmRead> {
  const outputs = await stackOutputs(ws, name);
  if (!outputs) return { stack: name, exists: false };
  const values = Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]));
  return {
    stack: name,
    exists: true,
    read: readWarmOutputs(values),
    ...(values.registry ? { registry: values.registry as RegistryOutputs } : {}),
  };
}

/** A stack's outputs, secrets shown (cc-ci reads them; it never prints them). */
export type StackOutputs = Record<string, { value: unknown }>;

/**
 * A stack's outputs in one CLI start (the Automation API's `select` and `outputs` take three: the
 * selection, the outputs and the outputs again with secrets); undefined when there is no such stack.
 */
export async function stackOutputs(ws: LocalWorkspace, name: string): Promise<StackOutputs | undefined> {
  let out: string;
  try {
    out = await pulumiCli(ws, ["stack", "output", "--json", "--show-secrets", "--stack", name]);
  } catch (e) {
    if (e instanceof PulumiCliError && /no stack named .* found/.test(e.stderr)) return undefined;
    throw e;
  }
  return asStackOutputs(JSON.parse(out) as Record<string, unknown>);
}

/** Output values (as `stack output --json` prints them, or as a program handed them) as StackOutputs. */
export function asStackOutputs(values: Record<string, unknown>): StackOutputs {
  return Object.fromEntries(Object.entries(values).map(([k, value]) => [k, { value }]));
}

/** A Pulumi command that failed: its diagnostics in the message, its streams kept. */
export class PulumiCliError extends Error {
  constructor(
    readonly args: string[],
    readonly code: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    const said = `${stderr}\n${stdout}`.split("\n").map((l) => l.trim());
    const errors = said.filter((l) => l.startsWith("error: ") && l !== "error: update failed");
    const last = said.filter(Boolean).slice(-1);
    super(
      [...new Set(errors.length > 0 ? errors.map((l) => l.slice("error: ".length)) : last)].join("; ") ||
        `pulumi ${args.slice(0, 2).join(" ")} exited with ${code}`,
    );
  }
}

/**
 * The workspace's Pulumi CLI run directly, in its home with its backend and passphrase: one process
 * where some Automation API calls start several (a read-back of the outputs and of the history after
 * each `up` and `destroy`). Output is streamed to `onOutput`; aborting the signal interrupts the
 * CLI as Ctrl-C would (it cancels cleanly), as the Automation API does.
 */
export function pulumiCli(
  ws: LocalWorkspace,
  args: string[],
  onOutput?: (chunk: string) => void,
  signal?: AbortSignal,
): Promise<string> {
  const env = {
    ...process.env,
    ...foundHelpersEnv(),
    ...(ws.pulumiHome ? { PULUMI_HOME: ws.pulumiHome } : {}),
    ...ws.envVars,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(ws.pulumiCommand.command, [...args, "--non-interactive"], {
      cwd: ws.workDir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      onOutput?.(d);
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const abort = () => child.kill("SIGINT");
    signal?.addEventListener("abort", abort, { once: true });
    child.on("error", reject);
    child.on("close", (code) => {
      signal?.removeEventListener("abort", abort);
      if (code === 0) resolve(stdout);
      else reject(new PulumiCliError(args, code, stdout, stderr));
    });
  });
}

/** What a drift check found: nothing, changes, or an error that kept it from telling. */
export type Drift = { drift: false } | { drift: true; summary: string } | { error: string };

/**
 * Whether a stack still matches its code, config and the world: a preview with refresh that
 * expects no changes. Used by `cc-ci warm preview --expect-no-changes` and the audit alike.
 */
export async function previewDrift(stack: Stack, onOutput?: (out: string) => void): Promise<Drift> {
  let log = "";
  try {
    await stack.preview({
      refresh: true,
      expectNoChanges: true,
      color: "never",
      onOutput: (o) => {
        log += o;
        onOutput?.(o);
      },
    });
    return { drift: false };
  } catch (e) {
    const m = `${(e as Error).message}\n${log}`;
    if (/expected no changes|no changes were expected/i.test(m)) {
      const changes = log
        .split("\n")
        .filter((l) => /^\s*[~+-]{1,2}\s|^\s*Resources:|to (update|create|delete|replace)/.test(l))
        // The refresh step lists every resource ("~ … refreshing", "~ … refresh"): not changes.
        .filter((l) => !/\srefresh(ing)?\s*$/.test(l));
      return { drift: true, summary: changes.slice(0, 20).join("\n").trim() };
    }
    return { error: (e as Error).message.split("\n").slice(-3).join(" ") };
  }
}

/** The project's stacks on the backend. */
export async function listStacks(env: CcciEnv): Promise<StackSummary[]> {
  return withWorkspace(env, homeName("list"), (ws) => stackList(ws));
}

/**
 * What went wrong in a failed Pulumi command, from its diagnostics (`error: …` lines), not its whole
 * transcript (the first line of the message when it has none); other errors' messages as they are.
 */
export function pulumiErrorSummary(e: unknown, max = 600): string {
  const text = e instanceof Error ? e.message : String(e);
  if (!(e instanceof CommandError)) return text;
  // The transcript is `code: N`, then ` stdout: …`, ` stderr: …` and ` err?: …` sections.
  const lines = text.split("\n").map((l) => l.trim().replace(/^(stdout|stderr|err\?):\s*/, ""));
  const errors = lines
    .filter((l) => l.startsWith("error: ") && l !== "error: update failed")
    .map((l) => l.slice("error: ".length));
  const s =
    errors.length > 0
      ? [...new Set(errors)].join("; ")
      : (lines.find((l) => l && !/^code: /.test(l)) ?? text);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
