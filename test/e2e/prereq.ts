/**
 * End-to-end tests need the real environment (scripts/env/setup.sh). When something is missing the
 * suite says what and why, and is skipped — except in CI, where a missing prerequisite is a failure.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { loadEnv } from "../../automation/adapters/env";

const ROOT = path.join(__dirname, "..", "..");

function pluginVersion(name: string): string {
  return (
    JSON.parse(readFileSync(path.join(ROOT, "node_modules", "@pulumi", name, "package.json"), "utf8")) as {
      version: string;
    }
  ).version;
}

export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  try {
    const state = execFileSync("docker", ["info", "--format", "{{.Swarm.LocalNodeState}}"], {
      encoding: "utf8",
      timeout: 20000,
    }).trim();
    if (state !== "active") missing.push(`this Docker engine is not in a swarm (state ${state})`);
  } catch {
    missing.push("no Docker engine answers");
  }
  const env = loadEnv();
  if (!env.pulumiBin) missing.push("no Pulumi CLI built by scripts/env/pulumi.sh");
  const plugins = path.join(process.env.PULUMI_HOME ?? path.join(homedir(), ".pulumi"), "plugins");
  for (const p of ["docker", "keycloak"]) {
    if (!existsSync(path.join(plugins, `resource-${p}-v${pluginVersion(p)}`)))
      missing.push(`provider plugin ${p} ${pluginVersion(p)} is not installed`);
  }
  for (const image of [
    "cc-ci/traefik:3.6.12",
    "cc-ci/keycloak:26.7.3",
    "cc-ci/postgres:15",
    "cc-ci/whoami:1",
    "cc-ci/nginx:bookworm",
    "cc-ci/haproxy:bookworm",
    "cc-ci/sandbox:1",
  ]) {
    try {
      execFileSync("docker", ["image", "inspect", image], { stdio: "ignore", timeout: 20000 });
    } catch {
      missing.push(`image ${image} is missing`);
    }
  }
  return missing;
}

const missing = missingPrerequisites();

/** `describe` when the environment is there; otherwise a loud skip (a failure in CI). */
export function describeE2E(name: string, fn: () => void): void {
  if (missing.length === 0) {
    describe(name, fn);
    return;
  }
  const why = `end-to-end suite "${name}" needs: ${missing.join("; ")} (run scripts/env/setup.sh)`;
  if (process.env.CI) {
    describe(name, () => {
      test("has its prerequisites", () => {
        throw new Error(why);
      });
    });
    return;
  }
  console.warn(`SKIPPED: ${why}`);
  const skipped = describe.skip;
  skipped(name, fn);
}
