/**
 * The settings a run starts from: the operator's warm config (Pulumi.warm.yaml: domain, images, the
 * Keycloak and Traefik settings a cold run reuses), then an optional run-defaults file (image
 * substitutions, env overrides, recipe policy), then the command line.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { parseOrThrow } from "../lib/errors";
import { RecipePolicy } from "../lib/config";

export const RunDefaults = z.strictObject({
  /** Image substitutions for recipes, e.g. {"nginx:1.25": "cc-ci/nginx:bookworm"}. */
  images: z.record(z.string(), z.string()).default({}),
  /** Values for recipes' .env (override .env.sample). */
  env: z.record(z.string(), z.string()).default({}),
  /** What recipes may do on this host. */
  policy: RecipePolicy.prefault({}),
  /** The test user's name. */
  testUser: z.string().optional(),
  /** Seconds to wait for the app to answer through Traefik. Default: 300. */
  readyTimeout: z.number().int().positive().default(300),
  /** Seconds the recipe's services get to be running and healthy during `up`. Default: 600. */
  deployTimeout: z.number().int().positive().default(600),
});
export type RunDefaults = z.output<typeof RunDefaults>;

export interface WarmSettings {
  domain?: string;
  dockerHost?: string;
  traefik?: Record<string, unknown>;
  keycloak?: Record<string, unknown>;
}

/** The `cc-ci:*` settings of a stack config file (Pulumi.warm.yaml), without the `cc-ci:` prefix. */
export function readStackFile(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  const doc = parse(readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc?.config ?? {})) if (k.startsWith("cc-ci:")) out[k.slice(6)] = v;
  return out;
}

export function warmSettings(projectDir: string): WarmSettings {
  const c = readStackFile(path.join(projectDir, "Pulumi.warm.yaml"));
  return {
    domain: c.domain as string | undefined,
    dockerHost: c.dockerHost as string | undefined,
    traefik: c.traefik as Record<string, unknown> | undefined,
    keycloak: c.keycloak as Record<string, unknown> | undefined,
  };
}

export function readRunDefaults(file: string | undefined): RunDefaults {
  if (!file) return RunDefaults.parse({});
  if (!existsSync(file)) throw new Error(`run defaults file ${file} does not exist`);
  return parseOrThrow(RunDefaults, parse(readFileSync(file, "utf8")) ?? {}, `run defaults ${file}`);
}
