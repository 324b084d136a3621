/**
 * The Go helpers that put Docker's and Traefik's own code in the loader's path (scripts/env/*-helper):
 * `ccci-compose` (docker/cli's compose loader, swarmkit's config templates) and `ccci-traefik`
 * (Traefik's label decoder and rule parser). Each is a JSON request on stdin and a JSON answer on
 * stdout; the binary is found through its build script, which never builds from here (`--cached`).
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { ValidationError } from "../errors";
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

/**
 * The helpers this process has found, as the variables that name them: handed to the Pulumi program
 * this process starts, which then reads the same recipe without asking the build scripts again.
 */
export function foundHelpersEnv(): Record<string, string> {
  return Object.fromEntries([...found].map(([kind, bin]) => [OVERRIDE[kind], bin]));
}

/**
 * What a helper may use, whatever a recipe asks of it: its heap and every other private writable
 * mapping (RLIMIT_DATA, with Go's collector told to work hard before it: GOMEMLIMIT), its CPU time
 * (RLIMIT_CPU), its wall time and the size of its answer. A recipe that needs more is refused as
 * invalid (exit 2), naming the ceiling; the helper never takes the host with it.
 */
export const HELPER_LIMITS = {
  memoryBytes: 1024 * 1024 * 1024,
  cpuSeconds: 60,
  wallMs: 120_000,
  answerBytes: 64 * 1024 * 1024,
} as const;

/** What a helper was asked to do, for the problem named when it goes past a ceiling. */
const DOING: Record<string, string> = {
  "compose load": "loading the compose files",
  "compose render": "rendering the config templates",
  "compose reference": "reading .cc-ci/image",
  "traefik decode": "decoding the Traefik labels",
};

/**
 * Runs `ccci-<kind> <command>` with `request` on stdin, under HELPER_LIMITS; its JSON answer. Past a
 * ceiling: a ValidationError naming it (the recipe's doing, never a crash of cc-ci).
 */
export function callHelper<T>(kind: HelperKind, command: string, request: unknown): T {
  const bin = helperBinary(kind);
  const l = HELPER_LIMITS;
  const r = spawnSync("prlimit", [`--data=${l.memoryBytes}`, `--cpu=${l.cpuSeconds}`, "--", bin, command], {
    input: JSON.stringify(request),
    encoding: "utf8",
    maxBuffer: l.answerBytes,
    timeout: l.wallMs,
    killSignal: "SIGKILL",
    // Nothing of the caller's environment: the helpers interpolate only what the request gives them.
    env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8", GOMEMLIMIT: String(Math.floor((l.memoryBytes / 4) * 3)) },
  });
  const doing = DOING[`${kind} ${command}`] ?? `ccci-${kind} ${command}`;
  const over = (what: string) =>
    new ValidationError("recipe", [
      { path: "", message: `${doing} ${what}: the recipe's text grows without bound` },
    ]);
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOBUFS") throw over(`answered more than ${l.answerBytes} bytes`);
  if (code === "ETIMEDOUT") throw over(`took more than ${l.wallMs / 1000} s`);
  if (r.error) throw new Error(`ccci-${kind} ${command}: ${r.error.message}`);
  if (/\bout of memory\b/.test(r.stderr))
    throw over(`needed more than the helper's memory ceiling of ${l.memoryBytes / 1024 / 1024} MiB`);
  if (r.signal === "SIGXCPU" || r.signal === "SIGKILL")
    throw over(`needed more than ${l.cpuSeconds} s of CPU`);
  if (r.status !== 0)
    throw new Error(`ccci-${kind} ${command} failed (exit ${r.status}): ${r.stderr.trim().slice(0, 2000)}`);
  return JSON.parse(r.stdout) as T;
}
