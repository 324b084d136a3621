/**
 * The CI's entry point: one recipe run from a clean, isolated environment to nothing left behind.
 * warm-check → validate → stack-create → up → converge → reachable → sso-ready → test → destroy → stack-remove
 * → verify. The phases live in their own modules; this orchestrator keeps only the order, the
 * `try/finally` that makes teardown happen whatever failed, and the signals (a second SIGINT/SIGTERM
 * does not abandon the teardown).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { readRunDefaults, readWarmSettings, type SsoRequest } from "../../../lib/config";
import { ValidationError } from "../../../lib/errors";
import { ownerId, runNames, WARM_STACK, type RunNames } from "../../../lib/naming";
import { deployTimeoutOf, type RunPlan } from "../../../lib/runPlan";
import { bytes } from "../../../lib/units";
import { loadEnv, type CcciEnv } from "../../adapters/env";
import { dockerClient, sweepNodeVolumes, sweepTaskContainers } from "../../adapters/docker";
import { agentName, holdLease, leaseStore, releaseSlot, runClaims } from "../../adapters/leases";
import { openWorkspace, pulumiErrorSummary, type OpenWorkspace } from "../../adapters/pulumi";
import { waitConverged } from "./converge";
import { createRunStack, deployRun } from "./deploy";
import { runOutcome } from "./outcome";
import { checkWarm, claimRunSlot, freeRunPorts, prepareRun } from "./prepare";
import { makeRunRealm } from "./realm";
import { copyRecipe, removeRecipeCopy } from "./recipeCopy";
import { waitReachable, waitSsoReady } from "./ready";
import { PhaseClock, summary, type RunReport } from "./report";
import { runTests } from "./tests";
import { describeResidue, destroyRun, findResidue, removeRunRealm } from "./teardown";

import { EXIT } from "./outcome";
import { watchDisk, type DiskBudgetError } from "./diskBudget";

export { EXIT };

export interface RunArgs {
  /** The recipe folder. */
  recipeDir: string;
  /** Recipe name. Default: the folder's name. */
  recipe?: string;
  pr?: number;
  ref?: string;
  /** auto: warm when the warm Keycloak is healthy, else cold. Default: auto. */
  sso?: SsoRequest;
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
  /** Seconds the tests get before their sandbox is killed. Default: the run defaults' (900). */
  testTimeout?: number;
  /** The recipe secret (compose key) that takes the run's OIDC client secret instead of a generated value. */
  oidcClientSecret?: string;
  /** Fixed run hex (tests); default: random. */
  hex?: string;
  /** Progress lines. Default: stderr. */
  log?: (line: string) => void;
  /** Aborts the run as SIGTERM would (tests). */
  signal?: AbortSignal;
  /** Install SIGINT/SIGTERM handlers. Default: true. */
  handleSignals?: boolean;
}

function newReport(
  recipe: string,
  names: RunNames | undefined,
  started: number,
  clock: PhaseClock,
): RunReport {
  return {
    runId: names?.runId ?? "",
    recipe,
    stack: names?.stack ?? "",
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    outcome: "passed",
    exitCode: 0,
    phases: clock.phases,
    residue: { docker: [] },
    warnings: [],
  };
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
    const report = newReport(recipe, undefined, started, clock);
    Object.assign(report, { outcome: "invalid", exitCode: 2, error: (e as Error).message });
    return finish(report, args, env, log);
  }
  const say = (l: string) => log(`[${names.runId}] ${l}`);
  const report = newReport(recipe, names, started, clock);
  report.agent = agentName();
  // From its first moment the run holds a lease, so no audit mistakes it for residue.
  const leases = leaseStore(env);
  let lease: { release(): Promise<void> };
  try {
    lease = await holdLease(leases, names.runId, names.stack, (e) =>
      say(`lease heartbeat to ${leases.where} failed (${e.message}); retrying`),
    );
  } catch (e) {
    await leases.close().catch(() => undefined);
    Object.assign(report, {
      outcome: "setup-failed",
      exitCode: EXIT.setup,
      error: `cannot hold the run's lease in ${leases.where}: ${(e as Error).message}; nothing was created`,
    });
    return finish(report, args, env, log);
  }

  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      say(`${sig}: stopping and tearing down`);
      abort.abort();
    } else say(`${sig} again: teardown continues (it must, or the run leaves residue)`);
  };
  const handleSignals = args.handleSignals ?? true;
  if (handleSignals) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  args.signal?.addEventListener("abort", () => onSignal("SIGTERM"), { once: true });

  const docker = dockerClient();
  // Exclusive claims on what runs share besides networks (pooled realms, the pool's top-up).
  const claims = runClaims(leases, names.runId);
  // The run's own read-only copy of the recipe: what is deployed, bind-mounted and tested.
  const copyDir = path.join(env.home, "runs", names.runId, "recipe");
  let slot: string | undefined;
  let work: OpenWorkspace | undefined;
  let stack: Stack | undefined;
  let plan: RunPlan | undefined;
  let invalid = false;
  let realmMade = false;
  let topUp: Promise<string | undefined> | undefined;
  let setupFailed = false;
  let disk: { stop(): void } | undefined;
  let overBudget: DiskBudgetError | undefined;
  try {
    work = await openWorkspace(env, names.stack);
    const ws = work.ws;
    const sso = args.sso ?? "auto";
    const warmStack = args.warmStack ?? WARM_STACK;
    const warm = await clock.run("warm-check", async () => {
      const w = await checkWarm(ws, warmStack, sso);
      // A network of the warm proxy's for this run alone: its exposed services and its tests join it.
      if (w.view.read?.ok) {
        slot = await claimRunSlot(docker, leases, names.runId, warmStack, w.view.read.proxy);
        report.slot = slot;
      }
      return w;
    });
    for (const n of warm.notes) say(n);
    report.warnings.push(...warm.notes);

    const prepared = await clock.run("validate", async () => {
      const defaults = readRunDefaults(args.defaultsFile);
      const settings = readWarmSettings(path.join(env.projectDir, "Pulumi.warm.yaml"));
      const copy = copyRecipe(recipeDir, copyDir, args.ref);
      for (const s of copy.skipped)
        report.warnings.push(`${s}: not a regular file or folder; left out of the run's copy`);
      if (args.ref !== undefined && copy.source === "folder")
        report.warnings.push(
          `${recipeDir} is not in a git repository: --ref ${args.ref} labels the run, the folder is tested as it is`,
        );
      const req = {
        names,
        owner: ownerId(env.backendUrl),
        recipeDir: copy.dir,
        recipe,
        pr: args.pr,
        ref: args.ref,
        sso,
        deployTimeout: args.deployTimeout,
        proxyNetwork: slot,
        oidcClientSecret: args.oidcClientSecret,
      };
      return { ...prepareRun(req, warm.view, settings, defaults, await freeRunPorts()), defaults };
    });
    plan = prepared.plan;
    report.warnings.push(...plan.notes, ...prepared.model.warnings);
    Object.assign(report, { mode: plan.sso.mode, domain: plan.domain, appUrl: plan.appUrl });
    say(`SSO ${plan.sso.mode}; app at ${plan.appUrl}`);

    if (abort.signal.aborted) throw new Error("interrupted");
    // The realm (warm Keycloak) and the stack are made side by side.
    const ssoPlan = plan.sso;
    realmMade = ssoPlan.mode === "warm";
    const [realm, created] = await Promise.allSettled([
      ssoPlan.mode === "warm"
        ? clock.run("realm", () =>
            makeRunRealm(ssoPlan.keycloak, names, warmStack, claims, prepared.config.owner),
          )
        : Promise.resolve(undefined),
      clock.run("stack-create", () => createRunStack(ws, names.stack, prepared.stackConfig)),
    ]);
    if (created.status === "fulfilled") stack = created.value;
    if (realm.status === "fulfilled" && realm.value) {
      report.realmFrom = realm.value.from;
      say(`realm ${names.realm}: ${realm.value.from === "pool" ? "claimed from the pool" : "created"}`);
      topUp = realm.value.topUp;
    }
    if (realm.status === "rejected") throw realm.reason;
    if (created.status === "rejected") throw created.reason;
    // From the first task on, the run's disk is watched against its budget.
    disk = watchDisk(docker, names.runId, bytes(prepared.config.limits.disk), (e) => {
      overBudget = e;
      say(e.message);
      abort.abort(e);
    });
    const outputs = await clock.run("up", () => deployRun(ws, names.stack, say, abort.signal));
    if (abort.signal.aborted) throw new Error("interrupted");

    const convergeMs = deployTimeoutOf(prepared.config, prepared.model) * 1000;
    await clock.run("converge", () => waitConverged(docker, names.runId, convergeMs, abort.signal));
    if (abort.signal.aborted) throw new Error("interrupted");

    const readyMs = prepared.defaults.readyTimeout * 1000;
    const proxy = { httpPort: plan.proxy.httpPort, httpsPort: plan.proxy.httpsPort };
    const p = plan;
    if (((outputs.routers?.value ?? []) as unknown[]).length > 0)
      await clock.run("reachable", () => waitReachable(p.appUrl, proxy, readyMs, abort.signal));
    else clock.skip("reachable", "the recipe routes nothing through Traefik");
    const oidc = outputs.oidc?.value as { issuer: string } | undefined;
    if (oidc) await clock.run("sso-ready", () => waitSsoReady(oidc.issuer, proxy, readyMs, abort.signal));
    else clock.skip("sso-ready", "SSO is off");

    const tests = {
      docker,
      copyDir,
      command: args.testCommand,
      ci: prepared.model.ci,
      outputs,
      plan: p,
      config: prepared.config,
    };
    const sandbox = {
      ...prepared.defaults.sandbox,
      timeout: args.testTimeout ?? prepared.defaults.sandbox.timeout,
    };
    const code = await clock.run("test", () => runTests(tests, sandbox, abort.signal, say));
    // Stopped at its disk budget: a failure of the run's own making, not the tests' verdict.
    if (overBudget) throw overBudget;
    if (code === undefined) clock.skip("test", "no test command and no .cc-ci/test in the recipe", true);
    else {
      report.testExitCode = code;
      if (code !== 0) clock.phases[clock.phases.length - 1].outcome = "failed";
    }
  } catch (e) {
    setupFailed = true;
    invalid = e instanceof ValidationError;
    report.error = overBudget?.message ?? pulumiErrorSummary(e, 4000);
    if (e instanceof ValidationError) report.warnings.push(...e.warnings);
    say(`setup failed: ${report.error.split("\n")[0]}`);
  } finally {
    disk?.stop();
    const failed = setupFailed || (report.testExitCode ?? 0) !== 0;
    const keep = args.keepOnFailure === true && failed && stack !== undefined;
    if (keep) {
      say(
        `kept for debugging: destroy with \`cc-ci audit --reap\` or \`pulumi destroy -s ${names.stack} --remove\``,
      );
      clock.skip("destroy", "--keep-on-failure");
    } else if (stack && work) {
      const s = stack;
      const ws = work.ws;
      let removed = false;
      await clock
        .run("destroy", async () => {
          removed = await destroyRun(s, say);
          await sweepTaskContainers(names.runId);
          const failed = await sweepNodeVolumes(names.runId);
          if (failed.length > 0) throw new Error(failed.join("; "));
        })
        // Removed with the destroy when it went through at once; verify checks that it is gone.
        .then(() =>
          clock.run("stack-remove", async () => (removed ? undefined : ws.removeStack(names.stack))),
        )
        .catch((e: Error) => {
          report.error = [report.error, `teardown: ${pulumiErrorSummary(e, 2000)}`]
            .filter(Boolean)
            .join("\n");
        });
    }
    if (!keep && realmMade && plan) {
      const sso = plan.sso;
      await removeRunRealm(sso, names.realm).catch((e: Error) => {
        report.error = [report.error, `teardown: ${pulumiErrorSummary(e, 2000)}`].filter(Boolean).join("\n");
      });
    }
    if (!keep && work && !invalid) {
      const ws = work.ws;
      await clock
        .run("verify", async () => {
          report.residue = await findResidue(ws, names, plan?.sso);
          for (const n of report.residue.unchecked ?? [])
            report.warnings.push(
              `node ${n} could not be checked for what the run left there; \`cc-ci audit --reap\` removes it once the node is back`,
            );
          const left = describeResidue(report.residue);
          if (left) throw new Error(`the run left residue: ${left}`);
        })
        .catch((e: Error) => {
          report.error = [report.error, `verify: ${e.message}`].filter(Boolean).join("\n");
        });
    }
    if (!keep) {
      work?.close();
      removeRecipeCopy(copyDir);
    }
    if (slot) await releaseSlot(leases, names.runId, slot).catch(() => undefined);
    const topUpFailed = await topUp;
    if (topUpFailed) report.warnings.push(topUpFailed);
    await claims.releaseAll().catch(() => undefined);
    // A kept stack is protected by --max-age from here on, not by the lease of a process that ends.
    await lease.release().catch((e: Error) => report.warnings.push(`the run's lease: ${e.message}`));
    await leases.close().catch(() => undefined);
    if (handleSignals) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  }

  Object.assign(
    report,
    runOutcome({
      phases: clock.phases,
      invalid,
      setupFailed,
      signals,
      testExitCode: report.testExitCode,
      residue: report.residue,
    }),
  );
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
