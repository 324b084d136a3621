/**
 * Where cc-ci keeps its state and how it drives the Pulumi CLI: the backend (a local file:// folder
 * by default, any Pulumi backend URL otherwise), the passphrase of the stacks' secrets, the Pulumi
 * CLI and its plugins, and one Pulumi home per run so parallel runs never share workspace.json.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { availableParallelism, homedir } from "node:os";
import * as path from "node:path";
import { z } from "zod";
import { PulumiCommand, type LocalWorkspaceOptions } from "@pulumi/pulumi/automation";
import { parseOrThrow } from "../../lib/errors";
import { PROJECT_DIR } from "../../lib/projectDir";

/** The project (Pulumi.yaml, index.ts) this CLI belongs to. */
export { PROJECT_DIR };

const Env = z.object({
  /** cc-ci's own state: the default backend, run homes, reports, the generated passphrase. */
  CC_CI_HOME: z.string().default("/var/lib/cc-ci"),
  /** Pulumi backend; default: file://$CC_CI_HOME/state. An s3:// URL when several hosts share it. */
  PULUMI_BACKEND_URL: z.string().optional(),
  PULUMI_CONFIG_PASSPHRASE: z.string().optional(),
  PULUMI_CONFIG_PASSPHRASE_FILE: z.string().optional(),
  /** The Pulumi home holding the installed plugins. Default: ~/.pulumi. */
  PULUMI_HOME: z.string().optional(),
  /** Folder of the `pulumi` binary. Default: the one scripts/env/pulumi.sh built, else PATH. */
  CC_CI_PULUMI_BIN: z.string().optional(),
  CC_CI_CACHE: z.string().default("/var/cache/cc-ci"),
});

export interface CcciEnv {
  home: string;
  backendUrl: string;
  passphrase: string;
  sharedPulumiHome: string;
  pulumiBin?: string;
  projectDir: string;
}

export function loadEnv(env: NodeJS.ProcessEnv = process.env): CcciEnv {
  const e = parseOrThrow(Env, env, "environment");
  const home = path.resolve(e.CC_CI_HOME);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  let backendUrl = e.PULUMI_BACKEND_URL;
  if (!backendUrl) {
    const state = path.join(home, "state");
    mkdirSync(state, { recursive: true, mode: 0o700 });
    backendUrl = `file://${state}`;
  }
  return {
    home,
    backendUrl,
    passphrase: passphrase(e, home),
    sharedPulumiHome: e.PULUMI_HOME ?? path.join(homedir(), ".pulumi"),
    pulumiBin: e.CC_CI_PULUMI_BIN ?? builtPulumiBin(e.CC_CI_CACHE),
    projectDir: PROJECT_DIR,
  };
}

/** The passphrase from the environment, or one generated once and kept (mode 600) in cc-ci's home. */
function passphrase(e: z.output<typeof Env>, home: string): string {
  if (e.PULUMI_CONFIG_PASSPHRASE !== undefined) return e.PULUMI_CONFIG_PASSPHRASE;
  if (e.PULUMI_CONFIG_PASSPHRASE_FILE) return readFileSync(e.PULUMI_CONFIG_PASSPHRASE_FILE, "utf8").trim();
  const file = path.join(home, "passphrase");
  if (!existsSync(file)) {
    writeFileSync(file, randomBytes(24).toString("base64url"), { mode: 0o600, flag: "wx" });
  }
  chmodSync(file, 0o600);
  return readFileSync(file, "utf8").trim();
}

/** The CLI built by scripts/env/pulumi.sh at the version versions.env names, when it is there. */
function builtPulumiBin(cache: string): string | undefined {
  const versions = readFileSync(path.join(PROJECT_DIR, "scripts", "env", "versions.env"), "utf8");
  const v = /^PULUMI_VERSION=(.+)$/m.exec(versions)?.[1];
  const dir = v ? path.join(cache, "pulumi", `v${v}`, "bin") : undefined;
  return dir && existsSync(path.join(dir, "pulumi")) ? dir : undefined;
}

/** Environment for the Pulumi CLI and the program it runs. */
export function pulumiEnvVars(env: CcciEnv, pulumiHome: string): Record<string, string> {
  const vars: Record<string, string> = {
    PULUMI_BACKEND_URL: env.backendUrl,
    PULUMI_CONFIG_PASSPHRASE: env.passphrase,
    PULUMI_HOME: pulumiHome,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "false",
    // The program is type-checked by `npm run typecheck`; at `up`, ts-node only transpiles it, which
    // saves seconds on every run (the type check was most of the program's start).
    PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    // The program runs on the Node this CLI runs on (the project's Node 24), whatever PATH says.
    PATH: [path.dirname(process.execPath), env.pulumiBin, process.env.PATH].filter(Boolean).join(":"),
    // The program's and the dynamic providers' Node keep the bytecode of what they load (Pulumi's SDK,
    // its gRPC, the program) in the checkout's cache, from their first module on (bin/compile.js
    // turns it on only once the SDK is loaded).
    NODE_COMPILE_CACHE: path.join(env.projectDir, ".build", "node-compile-cache"),
  };
  // Pulumi's postgres:// backend lists keys holding a connection while it asks for each key's
  // metadata on another, from a pool of 2 × GOMAXPROCS connections, with 10 listings at once by
  // default: on 2 cores, `pulumi stack ls` over a handful of stacks deadlocks (seen here). Fewer
  // listings at once than connections keep one free for the nested queries.
  if (/^postgres(ql)?:\/\//.test(env.backendUrl) && !process.env.PULUMI_DIY_BACKEND_PARALLEL)
    vars.PULUMI_DIY_BACKEND_PARALLEL = String(Math.max(1, 2 * availableParallelism() - 1));
  return vars;
}

/**
 * A Pulumi home of its own (so parallel runs never share workspace.json), sharing the plugins
 * installed once in the operator's Pulumi home.
 */
export function privatePulumiHome(env: CcciEnv, name: string): string {
  const dir = path.join(env.home, "homes", name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const plugins = path.join(dir, "plugins");
  if (!existsSync(plugins)) {
    mkdirSync(path.join(env.sharedPulumiHome, "plugins"), { recursive: true });
    symlinkSync(path.join(env.sharedPulumiHome, "plugins"), plugins);
  }
  return dir;
}

export function removePulumiHome(env: CcciEnv, name: string): void {
  rmSync(path.join(env.home, "homes", name), { recursive: true, force: true });
}

/** The CLI, found (`pulumi version`) once per process and binary. */
const commands = new Map<string, Promise<PulumiCommand>>();

export async function workspaceOptions(env: CcciEnv, pulumiHome: string): Promise<LocalWorkspaceOptions> {
  const key = env.pulumiBin ?? "";
  let found = commands.get(key);
  if (!found) {
    found = env.pulumiBin ? PulumiCommand.get({ root: path.dirname(env.pulumiBin) }) : PulumiCommand.get();
    found.catch(() => commands.delete(key));
    commands.set(key, found);
  }
  const pulumiCommand = await found;
  return {
    workDir: env.projectDir,
    pulumiHome,
    pulumiCommand,
    envVars: pulumiEnvVars(env, pulumiHome),
  };
}
