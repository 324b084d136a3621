/**
 * The CI's entry point: one recipe run from a clean, isolated environment to nothing left behind.
 * validate → warm check → create the stack in its own workspace → up → reachable through Traefik →
 * SSO ready → the recipe's tests → destroy → remove the stack → verify no residue. Teardown runs in
 * `finally` and on SIGINT/SIGTERM; a second signal does not abandon it.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { LocalWorkspace, Stack, type ConfigMap, type OutputMap } from "@pulumi/pulumi/automation";
import { RunConfig } from "../lib/config";
import { readWarmOutputs, type ContractRead } from "../lib/contract";
import { ValidationError, parseOrThrow } from "../lib/errors";
import { runNames, type RunNames } from "../lib/naming";
import { loadRecipe } from "../lib/recipe/load";
import { planRun, recipeOptions, runVars, type RunPlan } from "../lib/runPlan";
import { dockerClient, runObjects } from "./docker";
import {
  loadEnv,
  privatePulumiHome,
  removePulumiHome,
  stackFqn,
  workspaceOptions,
  type CcciEnv,
} from "./env";
import { isTraefikNotFound, viaProxy, waitFor } from "./http";
import { KeycloakAdmin, keycloakAnswers } from "./keycloakAdmin";
import { PhaseClock, summary, type RunReport } from "./report";
import { readRunDefaults, warmSettings } from "./runDefaults";

/** Exit statuses other than the test command's own. */
export const EXIT = { invalid: 2, setup: 80, teardown: 81, interrupted: 130 } as const;

export interface RunArgs {
  /** The recipe folder. */
  recipeDir: string;
  /** Recipe name. Default: the folder's name. */
  recipe?: string;
  pr?: number;
  ref?: string;
  /** auto: warm when the warm Keycloak is healthy, else cold. Default: auto. */
  sso?: "auto" | "warm" | "cold" | "off";
  /** Leave the stack up when setup or the tests fail (for debugging). Default: false. */
  keepOnFailure?: boolean;
  /** The test command; default: the recipe's executable .cc-ci/test, if any. */
  testCommand?: string[];
  /** The warm stack's name. Default: warm. */
  warmStack?: string;
  /** Run defaults file (images, env, policy). */
  defaultsFile?: string;
  /** Where to write the JSON report. Default: $CC_CI_HOME/runs/<run id>/report.json. */
  reportFile?: string;
  /** Seconds the recipe's services get to become healthy during `up`. Default: the run defaults' (600). */
  deployTimeout?: number;
  /** Fixed run hex (tests); default: random. */
  hex?: string;
  /** Progress lines. Default: stderr. */
  log?: (line: string) => void;
  /** Aborts the run as SIGTERM would (tests). */
  signal?: AbortSignal;
  /** Install SIGINT/SIGTERM handlers. Default: true. */
  handleSignals?: boolean;
}

interface WarmState {
  fqn: string;
  read?: ContractRead;
  keycloakHealthy: boolean;
  notes: string[];
}

export async function ciRun(args: RunArgs, env: CcciEnv = loadEnv()): Promise<RunReport> {
  const log = args.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const started = Date.now();
  const clock = new PhaseClock();
  const recipeDir = path.resolve(args.recipeDir);
  const recipe = args.recipe ?? path.basename(recipeDir);
  let names: RunNames;
  try {
    names = runNames(recipe, args.hex);
  } catch (e) {
    return finish(invalidReport(recipe, started, (e as Error).message), args, env, log);
  }
  const say = (l: string) => log(`[${names.runId}] ${l}`);
  const report: RunReport = {
    runId: names.runId,
    recipe,
    stack: names.stack,
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    outcome: "passed",
    exitCode: 0,
    phases: clock.phases,
    residue: { docker: [] },
    warnings: [],
  };

  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      say(`${sig}: stopping and tearing down`);
      abort.abort();
    } else say(`${sig} again: teardown continues (it must, or the run leaves residue)`);
  };
  if (args.handleSignals ?? true) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  args.signal?.addEventListener("abort", () => onSignal("SIGTERM"), { once: true });

  const home = privatePulumiHome(env, names.stack);
  let stack: Stack | undefined;
  let plan: RunPlan | undefined;
  let outputs: OutputMap = {};
  let setupFailed = false;
  let created = false;
  try {
    const defaults = readRunDefaults(args.defaultsFile);
    const settings = warmSettings(env.projectDir);
    const sso = args.sso ?? "auto";
    const warm = await clock.run("warm-check", () => checkWarm(env, home, args.warmStack ?? "warm", sso));
    for (const n of warm.notes) say(n);
    report.warnings.push(...warm.notes);

    const config = await clock.run("validate", async () => {
      const cold = (settings.keycloak ?? {}) as Record<string, unknown>;
      const needsOwnProxy = !warm.read?.ok;
      const raw: Record<string, unknown> = {
        role: "run",
        runId: names.runId,
        recipeDir,
        recipe,
        ...(args.pr !== undefined ? { pr: args.pr } : {}),
        ...(args.ref !== undefined ? { ref: args.ref } : {}),
        sso: sso === "auto" ? (warm.keycloakHealthy ? "warm" : "cold") : sso,
        warmStack: warm.read?.ok ? warm.fqn : "",
        domain: settings.domain ?? "ci.localhost",
        dockerHost: settings.dockerHost ?? "unix:///var/run/docker.sock",
        // A cold Keycloak must not take the warm one's admin port, nor another run's.
        keycloak: { ...cold, adminPort: await freePort(), adminUrl: undefined },
        traefik: needsOwnProxy
          ? { ...(settings.traefik ?? {}), httpPort: await freePort(), httpsPort: await freePort() }
          : (settings.traefik ?? {}),
        env: defaults.env,
        images: defaults.images,
        policy: defaults.policy,
        deployTimeout: args.deployTimeout ?? defaults.deployTimeout,
        ...(defaults.testUser ? { testUser: defaults.testUser } : {}),
      };
      const cfg = parseOrThrow(RunConfig, raw, "run config");
      plan = planRun(cfg, warm.read);
      // The program loads the recipe again; loading it here fails a broken recipe before any stack exists.
      const model = loadRecipe(recipeOptions(plan, cfg));
      report.warnings.push(...plan.notes, ...model.warnings);
      report.mode = plan.sso;
      report.domain = plan.domain;
      report.appUrl = plan.appUrl;
      return raw;
    });
    say(`SSO ${report.mode}; app at ${report.appUrl}`);

    stack = await clock.run("stack-create", async () => {
      const ws = await LocalWorkspace.create(await workspaceOptions(env, home));
      const s = await Stack.create(names.stack, ws);
      created = true;
      await s.setAllConfig(toConfigMap(config));
      return s;
    });
    const s = stack;
    await clock.run("up", async () => {
      const r = await s.up({ onOutput: (o) => streamLines(o, say), color: "never", signal: abort.signal });
      outputs = r.outputs;
    });
    if (abort.signal.aborted) throw new Error("interrupted");
    const proxy = { httpPort: plan!.proxy.httpPort, httpsPort: plan!.proxy.httpsPort };
    const routers = (outputs.routers?.value ?? []) as { hosts: string[] }[];
    if (routers.length > 0) {
      await clock.run("reachable", () =>
        waitFor(
          `app at ${plan!.appUrl} through Traefik`,
          defaults.readyTimeout * 1000,
          async () => {
            const a = await viaProxy(plan!.appUrl + "/", proxy);
            return !isTraefikNotFound(a) && a.status < 502;
          },
          1000,
          abort.signal,
        ),
      );
    } else clock.skip("reachable", "the recipe routes nothing through Traefik");
    const oidc = outputs.oidc?.value as { issuer: string } | undefined;
    if (oidc) {
      await clock.run("sso-ready", () =>
        waitFor(
          `OIDC discovery of ${oidc.issuer}`,
          defaults.readyTimeout * 1000,
          async () => {
            const a = await viaProxy(`${oidc.issuer}/.well-known/openid-configuration`, proxy);
            return a.status === 200 && (JSON.parse(a.body) as { issuer?: string }).issuer === oidc.issuer;
          },
          1000,
          abort.signal,
        ),
      );
    } else clock.skip("sso-ready", "SSO is off");

    const command =
      args.testCommand && args.testCommand.length > 0 ? args.testCommand : defaultTest(recipeDir);
    if (command) {
      const code = await clock.run("test", () =>
        runTest(command, recipeDir, testEnv(outputs, plan!, names), abort.signal, say),
      );
      report.testExitCode = code;
      if (code !== 0) clock.phases[clock.phases.length - 1].outcome = "failed";
    } else clock.skip("test", "no test command and no executable .cc-ci/test in the recipe");
  } catch (e) {
    setupFailed = true;
    report.error = (e as Error).message;
    if (e instanceof ValidationError) report.outcome = "invalid";
    say(`setup failed: ${(e as Error).message.split("\n")[0]}`);
  } finally {
    const failed = setupFailed || (report.testExitCode ?? 0) !== 0;
    if (args.keepOnFailure && failed && created) {
      say(
        `kept for debugging: destroy with \`cc-ci audit --reap\` or \`pulumi destroy -s ${names.stack} --remove\``,
      );
      clock.skip("destroy", "--keep-on-failure");
    } else if (created && stack) {
      await teardown(stack, clock, say).catch((e: Error) => {
        report.error = [report.error, `teardown: ${e.message}`].filter(Boolean).join("\n");
      });
    }
    if (!(args.keepOnFailure && failed)) {
      await clock
        .run("verify", () => verify(report, names, env, plan))
        .catch((e: Error) => {
          report.error = [report.error, `verify: ${e.message}`].filter(Boolean).join("\n");
        });
      removePulumiHome(env, names.stack);
    }
    if (args.handleSignals ?? true) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  }

  const residue =
    report.residue.docker.length > 0 || report.residue.realm !== undefined || report.residue.stack === true;
  const teardownFailed =
    clock.phases.some((p) => ["destroy", "verify"].includes(p.name) && p.outcome === "failed") || residue;
  if (report.outcome === "invalid") report.exitCode = EXIT.invalid;
  else if (teardownFailed) {
    report.outcome = "teardown-failed";
    report.exitCode = EXIT.teardown;
  } else if (setupFailed) {
    report.outcome = "setup-failed";
    report.exitCode = signals > 0 ? EXIT.interrupted : EXIT.setup;
  } else if ((report.testExitCode ?? 0) !== 0) {
    report.outcome = "failed";
    report.exitCode = report.testExitCode as number;
  }
  report.durationMs = Date.now() - started;
  return finish(report, args, env, log);
}

function finish(report: RunReport, args: RunArgs, env: CcciEnv, log: (l: string) => void): RunReport {
  const file = args.reportFile ?? path.join(env.home, "runs", report.runId || "invalid", "report.json");
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(report, null, 2));
  log(summary(report));
  log(`  report: ${file}`);
  return report;
}

function invalidReport(recipe: string, started: number, error: string): RunReport {
  return {
    runId: "",
    recipe,
    stack: "",
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    outcome: "invalid",
    exitCode: EXIT.invalid,
    phases: [],
    residue: { docker: [] },
    warnings: [],
    error,
  };
}

/** Destroys the stack and removes it; on failure, refreshes (clearing pending creates) and retries once. */
async function teardown(stack: Stack, clock: PhaseClock, say: (l: string) => void): Promise<void> {
  await clock.run("destroy", async () => {
    try {
      await stack.destroy({ onOutput: (o) => streamLines(o, say), color: "never" });
    } catch (e) {
      say(`destroy failed (${(e as Error).message.split("\n")[0]}); refreshing and retrying once`);
      await stack.cancel().catch(() => undefined);
      await stack.refresh({ clearPendingCreates: true, color: "never" }).catch(() => undefined);
      await stack.destroy({ onOutput: (o) => streamLines(o, say), color: "never" });
    }
  });
  await clock.run("stack-remove", () => stack.workspace.removeStack(stack.name));
}

/** Nothing of the run may be left: no labelled Docker object, no realm, no stack. */
async function verify(
  report: RunReport,
  names: RunNames,
  env: CcciEnv,
  plan: RunPlan | undefined,
): Promise<void> {
  const docker = dockerClient();
  // Removed services' tasks take a few seconds to stop; wait for them before calling anything residue.
  let left = await runObjects(docker, names.runId);
  for (let i = 0; i < 30 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    left = await runObjects(docker, names.runId);
  }
  report.residue.docker = left.map((o) => ({ kind: o.kind, name: o.name }));
  if (plan?.sso === "warm" && plan.warmKeycloak) {
    const kc = new KeycloakAdmin({
      url: plan.warmKeycloak.adminUrl,
      realm: plan.warmKeycloak.provisioning.realm,
      clientId: plan.warmKeycloak.provisioning.clientId,
      clientSecret: plan.warmKeycloak.provisioning.clientSecret,
    });
    if (await kc.realm(names.realm)) report.residue.realm = names.realm;
  }
  const home = privatePulumiHome(env, `${names.stack}-verify`);
  try {
    const ws = await LocalWorkspace.create(await workspaceOptions(env, home));
    report.residue.stack = (await ws.listStacks()).some(
      (s) => s.name === names.stack || s.name.endsWith(`/${names.stack}`),
    );
  } finally {
    removePulumiHome(env, `${names.stack}-verify`);
  }
  if (left.length > 0 || report.residue.realm || report.residue.stack) {
    throw new Error(
      `the run left residue: ${[...report.residue.docker.map((d) => `${d.kind} ${d.name}`), report.residue.realm ? `realm ${report.residue.realm}` : "", report.residue.stack ? "stack" : ""].filter(Boolean).join(", ")}`,
    );
  }
}

/** Reads the warm stack (if any) and checks that its Keycloak answers. */
async function checkWarm(env: CcciEnv, home: string, warmStack: string, sso: string): Promise<WarmState> {
  const fqn = stackFqn(warmStack);
  const notes: string[] = [];
  const ws = await LocalWorkspace.create(await workspaceOptions(env, home));
  const exists = (await ws.listStacks()).some((s) => s.name === warmStack || s.name === fqn);
  if (!exists) {
    notes.push(
      `no warm stack "${warmStack}": the run brings its own Traefik${sso === "off" ? "" : " and a cold Keycloak"}`,
    );
    return { fqn, keycloakHealthy: false, notes };
  }
  const outputs = await (await Stack.select(warmStack, ws)).outputs();
  const read = readWarmOutputs(Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value])));
  if (!read.ok) {
    notes.push(
      `warm stack "${warmStack}" is unusable: ${read.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
    );
    return { fqn, read, keycloakHealthy: false, notes };
  }
  let keycloakHealthy = false;
  if (read.keycloak) {
    keycloakHealthy = await keycloakAnswers(read.keycloak.adminUrl);
    if (!keycloakHealthy) notes.push(`the warm Keycloak at ${read.keycloak.adminUrl} does not answer`);
  }
  if (sso === "warm" && !keycloakHealthy)
    throw new Error(`--sso warm: the warm Keycloak is unusable (${notes.join("; ") || "absent"})`);
  return { fqn, read, keycloakHealthy, notes };
}

function toConfigMap(config: Record<string, unknown>): ConfigMap {
  const map: ConfigMap = {};
  for (const [k, v] of Object.entries(config)) {
    if (v === undefined) continue;
    map[`cc-ci:${k}`] = { value: typeof v === "string" ? v : JSON.stringify(v) };
  }
  return map;
}

/** The environment the recipe's tests get: the run's values, secrets included, and how to reach it. */
export function testEnv(outputs: OutputMap, plan: RunPlan, names: RunNames): Record<string, string> {
  const v = (k: string) => outputs[k]?.value as Record<string, string> | undefined;
  const oidc = v("oidc");
  const user = v("testUser");
  const proxy = plan.proxy;
  const port = proxy.scheme === "https" ? proxy.httpsPort : proxy.httpPort;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...runVars(plan, user?.username ?? "ci-user"),
    CI_RUN_ID: names.runId,
    CI_STACK_NAME: names.stackName,
    CI_PROXY_HTTP_PORT: String(proxy.httpPort),
    CI_PROXY_HTTPS_PORT: String(proxy.httpsPort),
    // For curl: `curl --resolve "$CI_CURL_RESOLVE" "$CI_APP_URL"` reaches the app without DNS.
    CI_CURL_RESOLVE: `${plan.domain}:${port}:127.0.0.1`,
  };
  if (oidc && user) {
    const kcHost = new URL(oidc.issuer).hostname;
    Object.assign(env, {
      CI_OIDC_ISSUER: oidc.issuer,
      CI_OIDC_CLIENT_ID: oidc.clientId,
      CI_OIDC_CLIENT_SECRET: oidc.clientSecret,
      CI_TEST_USER: user.username,
      CI_TEST_PASSWORD: user.password,
      CI_KEYCLOAK_CURL_RESOLVE: `${kcHost}:${port}:127.0.0.1`,
    });
  } else {
    for (const k of Object.keys(env))
      if (k.startsWith("CI_OIDC_") || k === "CI_TEST_PASSWORD" || k === "CI_KEYCLOAK_URL") delete env[k];
  }
  return env;
}

function defaultTest(recipeDir: string): string[] | undefined {
  const file = path.join(recipeDir, ".cc-ci", "test");
  return existsSync(file) ? [file] : undefined;
}

function runTest(
  command: string[],
  cwd: string,
  env: Record<string, string>,
  signal: AbortSignal,
  say: (l: string) => void,
): Promise<number> {
  say(`test: ${command.join(" ")}`);
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d: Buffer) => streamLines(d.toString(), (l) => say(`test| ${l}`)));
    child.stderr.on("data", (d: Buffer) => streamLines(d.toString(), (l) => say(`test| ${l}`)));
    const kill = () => child.kill("SIGTERM");
    signal.addEventListener("abort", kill, { once: true });
    child.on("error", (e) => reject(new Error(`test command ${command[0]}: ${e.message}`)));
    child.on("close", (code, sig) => {
      signal.removeEventListener("abort", kill);
      resolve(code ?? (sig ? 128 : 1));
    });
  });
}

function streamLines(text: string, say: (l: string) => void): void {
  for (const line of text.split("\n")) if (line.trim() !== "") say(line.replace(/\s+$/, ""));
}

/** A free TCP port on this host (for a cold Keycloak's admin port or a run's own Traefik). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
