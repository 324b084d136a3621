/**
 * CI agents as separate hosts would run them: each its own home and agent name, all on one shared
 * state backend with one passphrase; `bin/cc-ci run` started as such an agent, in its own process
 * group; and a look into the shared PostgreSQL database.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Client } from "pg";
import { postgresState } from "../../automation/adapters/leases";
import type { RunReport } from "../../automation/commands/run/report";
import { E2E_HOME, ROOT } from "./harness";

/** The agents' one passphrase, kept in the suite's home (stacks outlive a suite that is cut off). */
export function sharedPassphrase(): string {
  const file = path.join(E2E_HOME, "shared-passphrase");
  if (!existsSync(file)) {
    mkdirSync(E2E_HOME, { recursive: true });
    writeFileSync(file, randomBytes(18).toString("base64url"), { mode: 0o600, flag: "wx" });
  }
  return readFileSync(file, "utf8").trim();
}

/** What agent `name` sees: its own home and name, the shared backend and passphrase. */
export function agentEnv(name: string, url: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CC_CI_HOME: path.join(E2E_HOME, "agents", name),
    CC_CI_AGENT: `e2e-${name}`,
    PULUMI_BACKEND_URL: url,
    PULUMI_CONFIG_PASSPHRASE: sharedPassphrase(),
    ...extra,
  };
}

/** `bin/cc-ci run` as the agent `vars` describe, its own process group; `done()` gives its report. */
export function agentCcciRun(vars: NodeJS.ProcessEnv, recipeDir: string, warmStack: string, extra: string[]) {
  const report = path.join(
    vars.CC_CI_HOME as string,
    `report-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}.json`,
  );
  const child = spawn(
    path.join(ROOT, "bin", "cc-ci"),
    ["run", recipeDir, "--warm-stack", warmStack, "--sso", "off", "--report", report, ...extra],
    { env: vars, stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? -1)));
  return {
    child,
    output: () => err,
    async done(): Promise<{ code: number; report?: RunReport }> {
      const code = await closed;
      return {
        code,
        report: existsSync(report) ? (JSON.parse(readFileSync(report, "utf8")) as RunReport) : undefined,
      };
    },
  };
}

/** Rows of a query on the backend's database. */
export async function rows(url: string, sql: string): Promise<unknown[]> {
  const c = new Client({ connectionString: postgresState(url)?.connectionString });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}
