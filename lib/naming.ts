/**
 * Names of everything a run creates, and the limits that bite:
 * Keycloak keeps a realm id in a 36-character column, Swarm caps service names at 63 and config and
 * secret names at 64 characters. Every name keeps the run's 6 hex digits whole, because audits find
 * a run's residue by them; only the human-readable part is ever shortened.
 */
import { createHash, randomBytes } from "node:crypto";

export const REALM_MAX = 36;
export const SERVICE_NAME_MAX = 63;
export const OBJECT_NAME_MAX = 64; // secrets, configs
export const NETWORK_NAME_MAX = 64;
export const VOLUME_NAME_MAX = 64;

/** The Pulumi project (Pulumi.yaml's name); DIY backends file stacks under organization/<project>. */
export const PROJECT = "cc-ci";
/** Namespace of the stack config keys (`cc-ci:domain`). */
export const CONFIG_NAMESPACE = PROJECT;

/** Label keys carried by every Docker object this program creates. */
export const LABELS = {
  /** The run id; also the realm attribute that ties a realm to its run. */
  run: "cc-ci.run",
  recipe: "cc-ci.recipe",
  stack: "cc-ci.stack",
  layer: "cc-ci.layer",
  pr: "cc-ci.pr",
  ref: "cc-ci.ref",
  /** The recipe's variant a run tests. */
  variant: "cc-ci.variant",
  /** On a catalogue recipe deployed as a run's dependency: the dependency's name (deps.yml). */
  dep: "cc-ci.dep",
  /**
   * The state backend the run belongs to (a digest of its URL): audits of another backend (another
   * CI home, the test suite's) on the same swarm and Keycloak leave the run alone. Also a realm
   * attribute.
   */
  owner: "cc-ci.owner",
  /**
   * On a warm layer's admin gateways (plain containers, not swarm tasks): what `warm up` and setup
   * start again after a Docker restart (components/adminGateway.ts says why Docker does not).
   */
  gateway: "cc-ci.gateway",
  /** `docker stack ls/ps` group objects by this label; set it so operators' usual tools work. */
  stackNamespace: "com.docker.stack.namespace",
} as const;

/** The realm attribute naming a realm's run: the same key as the Docker label. */
export const RUN_ATTRIBUTE = LABELS.run;
/** The realm attribute naming the state backend a realm's run belongs to. */
export const OWNER_ATTRIBUTE = LABELS.owner;

/** The owner id of a state backend: the first 12 hex digits of its URL's SHA-256. */
export function ownerId(backendUrl: string): string {
  return createHash("sha256").update(backendUrl).digest("hex").slice(0, 12);
}

/** The realm attribute of a pooled realm (made ahead of runs): the warm stack whose pool it is in. */
export const POOL_ATTRIBUTE = "cc-ci.pool";
/** Pooled realms' names: `ccci-pool-<6 hex>`, renamed to a run's realm when a run claims one. */
export const POOL_REALM_PREFIX = "ccci-pool-";

/** The warm layer's default stack. */
export const WARM_STACK = "warm";

/** Fully-qualified name of a stack on a DIY (file, s3, postgres) backend. */
export function stackFqn(stack: string): string {
  return stack.includes("/") ? stack : `organization/${PROJECT}/${stack}`;
}

/** The short name of a possibly fully-qualified stack name. */
export function shortStackName(stack: string): string {
  return stack.split("/").pop() ?? stack;
}

/** Prefix of a warm layer's Docker objects: `ccci_warm` for the stack `warm`. */
export function warmPrefix(stack: string): string {
  return `ccci_${shortStackName(stack).replace(/[^a-zA-Z0-9_.-]/g, "_")}`;
}

export const RUN_ID_PATTERN = /^[a-z0-9]{1,4}-[0-9a-f]{6}$/;
export const RUN_STACK_PATTERN = /^run-[a-z0-9]{1,4}-[0-9a-f]{6}$/;
export const REALM_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,28})-[0-9a-f]{6}$/;

/** Lower-case alphanumerics and dashes only; what is left of a recipe name for ids. */
export function slug(recipe: string): string {
  return recipe
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "");
}

/** Six random hex digits, the part of every run name that makes it unique. */
export function newRunHex(): string {
  return randomBytes(3).toString("hex");
}

export interface RunNames {
  runId: string;
  stack: string;
  /** Prefix of every Docker object, the `STACK_NAME` a recipe sees (as `docker stack deploy` would). */
  stackName: string;
  realm: string;
  hex: string;
}

/**
 * Names of one run of `recipe`. `hex` defaults to fresh random digits.
 * Throws when the recipe name has no letters or digits to name a run after.
 */
export function runNames(recipe: string, hex: string = newRunHex()): RunNames {
  if (!/^[0-9a-f]{6}$/.test(hex)) throw new Error(`run hex must be 6 lower-case hex digits, got "${hex}"`);
  const s = slug(recipe);
  const alnum = s.replace(/-/g, "");
  if (alnum.length === 0)
    throw new Error(`recipe name "${recipe}" has no letters or digits to name a run after`);
  const runId = `${alnum.slice(0, 4)}-${hex}`;
  const stack = `run-${runId}`;
  const recipePart = s.slice(0, REALM_MAX - hex.length - 1).replace(/-+$/, "");
  return { runId, stack, stackName: stack.replace(/-/g, "_"), realm: `${recipePart}-${hex}`, hex };
}

/** Parses a run id back out of a stack name, or undefined when it is not a run stack. */
export function runIdOfStack(stack: string): string | undefined {
  const short = shortStackName(stack);
  return RUN_STACK_PATTERN.test(short) ? short.slice("run-".length) : undefined;
}

function shortHash(text: string, length = 6): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/**
 * `${prefix}_${name}` within `max` characters. When too long, the name part is cut and a hash of
 * the whole name appended, so two long names that share a beginning still differ.
 */
export function prefixedName(prefix: string, name: string, max: number): string {
  const full = `${prefix}_${name}`;
  if (full.length <= max) return full;
  const hash = shortHash(full);
  const room = max - prefix.length - 1 - hash.length - 1;
  if (room < 1) throw new Error(`prefix "${prefix}" leaves no room for a name within ${max} characters`);
  return `${prefix}_${name.slice(0, room)}-${hash}`;
}

/** A name shortened to `max` characters with a hash suffix when needed (for names a recipe chose). */
export function fitName(name: string, max: number): string {
  if (name.length <= max) return name;
  const hash = shortHash(name);
  return `${name.slice(0, max - hash.length - 1)}-${hash}`;
}

/** A content hash for immutable Swarm objects (secrets, configs): same content, same name. */
export function contentHash(content: string): string {
  return shortHash(content, 8);
}
