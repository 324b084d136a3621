/**
 * The recipe's tests: the command (default: the recipe's .cc-ci/test), run in the sandbox
 * (sandbox.ts) with exactly the run's CI_* values — URLs, how to reach the run from inside the
 * sandbox, the realm, the client and the test user.
 */
import type Docker from "dockerode";
import type { RunConfig, SandboxSettings } from "../../../lib/config";
import type { RecipeCi } from "../../../lib/recipe/ciFiles";
import { runVars, type RunPlan } from "../../../lib/runPlan";
import { depVar, type DepKind } from "../../../lib/deps/kinds";
import { depsNetwork, hasDepsNetwork } from "../../../lib/deps/plan";
import { bytes } from "../../../lib/units";
import { hostAddressForContainers } from "../../adapters/docker";
import type { StackOutputs } from "../../adapters/pulumi";
import { runSandbox, SANDBOX_RECIPE_DIR } from "./sandbox";
import { mask } from "./artifacts";
import { runMasks } from "./teardown";
import type { RunState, Validated } from "./state";

/** What the run's stack outputs say of its realm (see CiRunOutputs). */
interface RealmOutputs {
  routers?: { hosts: string[] }[];
  oidc?: { issuer: string; clientId: string; clientSecret: string };
  testUser?: { username: string; password: string };
  deps?: Record<string, { kind: DepKind; values: Record<string, string> }>;
}

/**
 * The environment a run's tests see: the run's values (secrets included) and how to reach the run
 * through the proxy at `proxyIp` (the address Traefik's ports answer on, from where the tests run).
 */
export function testEnv(outputs: StackOutputs, plan: RunPlan, proxyIp = "127.0.0.1"): Record<string, string> {
  const o = Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value])) as RealmOutputs;
  const proxy = plan.proxy;
  const port = proxy.scheme === "https" ? proxy.httpsPort : proxy.httpPort;
  const env: Record<string, string> = {
    ...runVars(plan, o.testUser?.username ?? "ci-user"),
    CI_PROXY_HTTP_PORT: String(proxy.httpPort),
    CI_PROXY_HTTPS_PORT: String(proxy.httpsPort),
    // For curl: `curl --resolve "$CI_CURL_RESOLVE" "$CI_APP_URL"` reaches the app without DNS.
    CI_CURL_RESOLVE: `${plan.domain}:${port}:${proxyIp}`,
    // Every host the run's routers serve (aliases included), space separated.
    CI_HOSTS: [...new Set((o.routers ?? []).flatMap((r) => r.hosts).filter((h) => !h.startsWith("*")))].join(
      " ",
    ),
  };
  // Each dependency's values, as the recipe got them (CI_DEP_<NAME>_<VALUE>).
  for (const [name, d] of Object.entries(o.deps ?? {}))
    if (d.kind !== "oidc")
      for (const [field, value] of Object.entries(d.values))
        env[depVar({ name, kind: d.kind }, field)] = value;
  if (o.oidc && o.testUser) {
    Object.assign(env, {
      CI_OIDC_ISSUER: o.oidc.issuer,
      CI_OIDC_CLIENT_ID: o.oidc.clientId,
      CI_OIDC_CLIENT_SECRET: o.oidc.clientSecret,
      CI_TEST_USER: o.testUser.username,
      CI_TEST_PASSWORD: o.testUser.password,
      CI_KEYCLOAK_CURL_RESOLVE: `${new URL(o.oidc.issuer).hostname}:${port}:${proxyIp}`,
    });
  } else {
    for (const k of Object.keys(env))
      if (
        k.startsWith("CI_OIDC_") ||
        k.startsWith("CI_KEYCLOAK_") ||
        k === "CI_TEST_USER" ||
        k === "CI_TEST_PASSWORD"
      )
        delete env[k];
  }
  return env;
}

/** The recipe's own test (.cc-ci/test, checked by the loader): its path where the sandbox mounts the recipe. */
export function defaultTest(ci: RecipeCi): string[] | undefined {
  return ci.test !== undefined ? [`${SANDBOX_RECIPE_DIR}/${ci.test}`] : undefined;
}

/**
 * The sandbox image: the recipe's choice (.cc-ci/image, read and checked by the loader, with the
 * operator's substitutions) or the CI's.
 */
export function testImage(ci: RecipeCi, fallback: string, images: Record<string, string>): string {
  return ci.image === undefined ? fallback : (images[ci.image] ?? ci.image);
}

export interface TestContext {
  docker: Docker;
  /** The run's private recipe copy. */
  copyDir: string;
  /** The test command; default: the recipe's .cc-ci/test. */
  command?: string[];
  /** What the loaded recipe says of its tests. */
  ci: RecipeCi;
  outputs: StackOutputs;
  plan: RunPlan;
  config: RunConfig;
  /** Where the tests' /artifacts are copied to, and what was. */
  artifacts?: { dir: string; copied: string[]; problems: string[] };
}

/**
 * The tests, in their sandbox on the run's network, with exactly the run's values; their exit
 * status, or undefined when there is nothing to run.
 */
export async function runTests(
  t: TestContext,
  sandbox: SandboxSettings,
  signal: AbortSignal,
  say: (l: string) => void,
): Promise<number | undefined> {
  const command = t.command && t.command.length > 0 ? t.command : defaultTest(t.ci);
  if (!command) return undefined;
  return runSandbox(
    t.docker,
    {
      image: testImage(t.ci, sandbox.image, t.config.images),
      command,
      env: testEnv(t.outputs, t.plan, await hostAddressForContainers(t.docker)),
      recipeDir: t.copyDir,
      network: t.plan.proxy.network,
      // The tests reach the dependencies as the recipe's services do.
      extraNetworks: hasDepsNetwork(t.plan.deps) ? [depsNetwork(t.plan.names)] : [],
      labels: t.plan.labels,
      name: `${t.plan.names.stackName}_test`,
      timeoutMs: sandbox.timeout * 1000,
      memoryBytes: bytes(sandbox.memory),
      nanoCpus: Math.round(sandbox.cpus * 1e9),
      pids: sandbox.pids,
      output: {
        lineBytes: bytes(sandbox.outputLineBytes),
        headBytes: Math.floor(bytes(sandbox.outputBytes) / 2),
        tailBytes: Math.ceil(bytes(sandbox.outputBytes) / 2),
      },
      ...(t.artifacts
        ? { artifacts: { volume: `${t.plan.names.stackName}_test_artifacts`, ...t.artifacts } }
        : {}),
    },
    signal,
    say,
  );
}

/**
 * The test phase of a run: the tests in the sandbox with the run's values; their exit code in the
 * report (no test at all: the phase is skipped). Stopped at its disk budget, the run fails of its
 * own making, not by the tests' verdict.
 */
export async function testPhase(s: RunState, v: Validated, outputs: StackOutputs): Promise<void> {
  const { args, clock, report } = s;
  const tests = {
    docker: s.docker,
    copyDir: s.copyDir,
    command: args.testCommand,
    ci: v.model.ci,
    outputs,
    plan: v.plan,
    config: v.config,
    artifacts: s.testArtifacts,
  };
  const sandbox = { ...v.defaults.sandbox, timeout: args.testTimeout ?? v.defaults.sandbox.timeout };
  // The test's lines, the run's secrets masked (as CI servers mask theirs), relayed and kept for the
  // artifacts and the JUnit file.
  const secrets = runMasks(s);
  const say = (line: string) => {
    const l = mask(line, secrets);
    if (l.startsWith("test| ")) s.testOutput.push(l.slice("test| ".length));
    s.say(l);
  };
  const code = await clock.run("test", () => runTests(tests, sandbox, s.signals.abort.signal, say));
  if (s.overBudget) throw s.overBudget;
  if (code === undefined) clock.skip("test", "no test command and no .cc-ci/test in the recipe", true);
  else {
    report.testExitCode = code;
    if (code !== 0) clock.phases[clock.phases.length - 1].outcome = "failed";
  }
}
