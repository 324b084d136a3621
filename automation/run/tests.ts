/**
 * The recipe's tests: the command (default: the recipe's executable .cc-ci/test) and exactly the
 * run's CI_* values — URLs, how to reach the run, the realm, the client and the test user.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import type { OutputMap } from "@pulumi/pulumi/automation";
import { runVars, type RunPlan } from "../../lib/runPlan";
import { streamLines } from "./deploy";

/** What the run's stack outputs say of its realm (see CiRunOutputs). */
interface RealmOutputs {
  oidc?: { issuer: string; clientId: string; clientSecret: string };
  testUser?: { username: string; password: string };
}

/**
 * The environment a run's tests see: the run's values (secrets included) and how to reach the run
 * through the proxy at `proxyIp` (the address Traefik's ports answer on, from where the tests run).
 */
export function testEnv(outputs: OutputMap, plan: RunPlan, proxyIp = "127.0.0.1"): Record<string, string> {
  const o = Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value])) as RealmOutputs;
  const proxy = plan.proxy;
  const port = proxy.scheme === "https" ? proxy.httpsPort : proxy.httpPort;
  const env: Record<string, string> = {
    ...runVars(plan, o.testUser?.username ?? "ci-user"),
    CI_PROXY_HTTP_PORT: String(proxy.httpPort),
    CI_PROXY_HTTPS_PORT: String(proxy.httpsPort),
    // For curl: `curl --resolve "$CI_CURL_RESOLVE" "$CI_APP_URL"` reaches the app without DNS.
    CI_CURL_RESOLVE: `${plan.domain}:${port}:${proxyIp}`,
  };
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

/** The recipe's own test, when it has an executable .cc-ci/test. */
export function defaultTest(recipeDir: string): string[] | undefined {
  const file = path.join(recipeDir, ".cc-ci", "test");
  return existsSync(file) ? [file] : undefined;
}

export function runTest(
  command: string[],
  cwd: string,
  env: Record<string, string>,
  signal: AbortSignal,
  say: (l: string) => void,
): Promise<number> {
  say(`test: ${command.join(" ")}`);
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), {
      cwd,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
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
