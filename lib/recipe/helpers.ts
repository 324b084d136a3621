/**
 * The Go helpers that put Docker's and Traefik's own code in the loader's path (scripts/env/*-helper):
 * `ccci-compose` (docker/cli's compose loader, swarmkit's config templates) and `ccci-traefik`
 * (Traefik's label decoder and rule parser). Each is a JSON request on stdin and a JSON answer on
 * stdout; the binary is found through its build script, which never builds from here (`--cached`).
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { PROJECT_DIR } from "../projectDir";

export type HelperKind = "compose" | "traefik";

const OVERRIDE: Record<HelperKind, string> = {
  compose: "CC_CI_COMPOSE_HELPER",
  traefik: "CC_CI_TRAEFIK_HELPER",
};
const found = new Map<HelperKind, string>();

/** The helper's binary: $CC_CI_<KIND>_HELPER, or the one scripts/env/<kind>-helper.sh built. */
export function helperBinary(kind: HelperKind): string {
  const override = process.env[OVERRIDE[kind]];
  if (override) return override;
  const known = found.get(kind);
  if (known) return known;
  const script = path.join(PROJECT_DIR, "scripts", "env", `${kind}-helper.sh`);
  const r = spawnSync("bash", [script, "--cached"], { encoding: "utf8", timeout: 30_000 });
  const bin = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || bin === "")
    throw new Error(
      `the ${kind} helper (ccci-${kind}) is not built for this checkout: run scripts/env/setup.sh (${r.stderr.trim().split("\n").pop() ?? ""})`,
    );
  found.set(kind, bin);
  return bin;
}

/** Runs `ccci-<kind> <command>` with `request` on stdin; its JSON answer. */
export function callHelper<T>(kind: HelperKind, command: string, request: unknown): T {
  const bin = helperBinary(kind);
  const r = spawnSync(bin, [command], {
    input: JSON.stringify(request),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: 120_000,
    // Nothing of the caller's environment: the helpers interpolate only what the request gives them.
    env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" },
  });
  if (r.error) throw new Error(`ccci-${kind} ${command}: ${r.error.message}`);
  if (r.status !== 0)
    throw new Error(`ccci-${kind} ${command} failed (exit ${r.status}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}
