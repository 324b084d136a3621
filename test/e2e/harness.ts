/**
 * The end-to-end tests' own corner of the host: a state backend of their own (CC_CI_HOME), and a warm
 * layer of their own (stack `warm-e2e`, its own proxy network, ports and prefix), so they never touch
 * an operator's warm layer or runs on the same swarm.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { parse } from "yaml";
import * as path from "node:path";
import { loadEnv, type CcciEnv } from "../../automation/adapters/env";
import { ownerId } from "../../lib/naming";
import { ciRun, type RunArgs } from "../../automation/commands/run";
import type { RunReport } from "../../automation/commands/run/report";
import { warmDestroy, warmUp } from "../../automation/commands/warm";

export const ROOT = path.join(__dirname, "..", "..");
export const E2E_HOME = process.env.CC_CI_E2E_HOME ?? "/var/lib/cc-ci-e2e";
export const WARM = "warm-e2e";
export const WARM_SETTINGS = {
  // Under ci.test, which scripts/env/dns.sh resolves to this host everywhere (containers included).
  domain: "e2e.ci.test",
  proxyNetwork: "proxy-e2e",
  slots: 6,
  traefik: {
    image: "cc-ci/traefik:3.6.12",
    apiProxyImage: "cc-ci/haproxy:bookworm",
    httpPort: 18080,
    httpsPort: 18443,
    tls: { mode: "none" },
    resources: { memoryLimit: "256m" },
  },
  keycloak: {
    image: "cc-ci/keycloak:26.7.3",
    gatewayImage: "cc-ci/haproxy:bookworm",
    command: ["start", "--optimized"],
    hostname: "kc",
    adminPort: 18180,
    resources: { memoryLimit: "1536m" },
    database: { image: "cc-ci/postgres:15" },
    realmPool: 3,
  },
  // Runs' postgres dependencies (.cc-ci/deps.yml) get a unit on it; its admin port is the suite's own.
  postgres: {
    enabled: true,
    image: "cc-ci/postgres:15",
    gatewayImage: "cc-ci/haproxy:bookworm",
    adminPort: 18432,
  },
  s3: {
    enabled: true,
    image: "cc-ci/versitygw:1.8.0",
    gatewayImage: "cc-ci/haproxy:bookworm",
    adminPort: 18471,
    apiPort: 18470,
  },
};

/**
 * A warm layer of a suite's own: a Traefik alone (runs bring their own Keycloak, dependencies, or none) on its own
 * ports, proxy network and domain (`<name>.e2e.ci.test`).
 */
export function traefikOnlyLayer(name: string, slots: number, httpPort: number) {
  return {
    domain: `${name}.e2e.ci.test`,
    proxyNetwork: `proxy-${name}`,
    slots,
    traefik: { ...WARM_SETTINGS.traefik, httpPort, httpsPort: httpPort + 363 },
    keycloak: { ...WARM_SETTINGS.keycloak, enabled: false, adminPort: httpPort + 100 },
    // Not the operator's warm PostgreSQL (Pulumi.warm.yaml's), nor its admin port: none.
    postgres: { ...WARM_SETTINGS.postgres, enabled: false },
    s3: { ...WARM_SETTINGS.s3, enabled: false },
  };
}

/**
 * A suite's own layer's settings file (Pulumi.<stack>.yaml, written from Pulumi.warm.yaml and the
 * suite's overrides, and kept by `warm destroy --remove` as an operator's would be): gone with it.
 */
export function dropSettings(stack: string): void {
  rmSync(path.join(ROOT, `Pulumi.${stack}.yaml`), { force: true });
}

/** A stack's settings file as the tests judge it: whether it keeps a salt, and its config (none: empty). */
export function readSettings(stack: string): { salt: boolean; config: Record<string, string> } {
  const file = path.join(ROOT, `Pulumi.${stack}.yaml`);
  const doc = ((existsSync(file) ? parse(readFileSync(file, "utf8")) : undefined) ?? {}) as {
    encryptionsalt?: string;
    config?: Record<string, string>;
  };
  return { salt: doc.encryptionsalt !== undefined, config: doc.config ?? {} };
}

export function e2eEnv(): CcciEnv {
  return loadEnv({ ...process.env, CC_CI_HOME: E2E_HOME });
}

const LOG = path.join(E2E_HOME, "e2e.log");

/** An owner id JSON or YAML would read as a number: all digits, or digits with one `e` (1 in ~125). */
export const NUMBER_SHAPED_OWNER = /^[0-9]+(e[0-9]+)?$/;

/**
 * The first of `candidate(0)`, `candidate(1)`, … (backend URLs) whose owner id reads as a number, so a
 * suite runs on such a backend on every machine, not only on the one host in ~125 whose generated
 * URL happens to hash that way.
 */
export function numberShapedBackend(candidate: (i: number) => string): string {
  for (let i = 0; i < 100_000; i++) {
    const url = candidate(i);
    if (NUMBER_SHAPED_OWNER.test(ownerId(url))) return url;
  }
  throw new Error("no backend URL with a number-shaped owner id among 100000 candidates");
}

/** Progress goes to a log file (shown on failure by the tests that need it), not to jest's output. */
export function logTo(name: string): (line: string) => void {
  mkdirSync(E2E_HOME, { recursive: true });
  return (line) => appendFileSync(LOG, `${new Date().toISOString()} [${name}] ${line}\n`);
}

export async function ensureWarm(env = e2eEnv()): Promise<void> {
  await warmUp(WARM, env, WARM_SETTINGS, logTo("warm"));
}

/**
 * `warm destroy --force`; when a network of the layer is held by a stale swarm attachment (a Docker
 * defect nothing but a restart of dockerd releases, moby/moby#31068, which an earlier suite on this
 * engine can have left), dockerd is restarted as scripts/env/docker.sh does it and the destroy tried
 * once more — written to the log, and only where this suite may restart the engine (as root).
 */
export async function destroyWarm(name: string, env: CcciEnv, log: (line: string) => void): Promise<void> {
  try {
    await warmDestroy(name, env, true, log);
  } catch (e) {
    const message = (e as Error).message;
    if (!/stale swarm attachment/.test(message) || process.getuid?.() !== 0) throw e;
    log(`${message}; restarting dockerd (scripts/env/docker.sh --restart) and destroying again`);
    execFileSync(path.join(ROOT, "scripts", "env", "docker.sh"), ["--restart"], {
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 180_000,
    });
    await warmDestroy(name, env, true, log);
  }
}

export function example(name: string): string {
  return path.join(ROOT, "examples", name);
}

export async function run(
  args: Partial<RunArgs> & { recipeDir: string },
  env = e2eEnv(),
): Promise<RunReport> {
  return ciRun(
    { warmStack: WARM, handleSignals: false, log: logTo(path.basename(args.recipeDir)), ...args },
    env,
  );
}

/** The lines of a report worth seeing when an assertion about it fails. */
export function explain(r: RunReport): string {
  return JSON.stringify(
    { outcome: r.outcome, exitCode: r.exitCode, error: r.error, phases: r.phases, residue: r.residue },
    null,
    1,
  );
}

/** Agents spawned by the running test, ended by endAgents() after it whatever happened. */
const agents = new Set<ChildProcess>();

/** Kills (SIGKILL, the whole process group) every agent a test started that is still running. */
export function endAgents(): void {
  for (const a of agents) {
    if (a.exitCode === null && a.signalCode === null && a.pid !== undefined) {
      try {
        process.kill(-a.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  agents.clear();
}

/** `bin/cc-ci run …` as a CI agent starts it: its own process group, stderr collected. */
export function spawnRun(recipeDir: string, extra: string[] = []) {
  const child = spawn(path.join(ROOT, "bin", "cc-ci"), ["run", recipeDir, "--warm-stack", WARM, ...extra], {
    env: { ...process.env, CC_CI_HOME: E2E_HOME },
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  agents.add(child);
  let err = "";
  let exited = false;
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number>((resolve) =>
    child.on("close", (c) => {
      exited = true;
      resolve(c ?? -1);
    }),
  );
  return {
    child,
    closed,
    output: () => err,
    /** Waits until the output matches `pattern`; fails if the run ends or the time runs out first. */
    async waitFor(pattern: RegExp, timeoutMs = 240_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(err)) {
        if (exited) throw new Error(`the run ended before ${pattern}:\n${err.slice(-2000)}`);
        if (Date.now() > deadline)
          throw new Error(`no ${pattern} after ${timeoutMs / 1000} s:\n${err.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}
