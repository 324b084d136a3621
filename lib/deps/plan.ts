/**
 * Where each declared dependency of a run comes from — the warm layer's instance with a unit of the
 * run's own on it, or a cold one deployed inside the run stack — and the values the recipe and its
 * tests get. Decided by planRun (lib/runPlan.ts) with what is known of the warm layer.
 */
import { statSync } from "node:fs";
import * as path from "node:path";
import type { PostgresContract, S3Contract } from "../contract";
import { S3_PORT, S3_REGION, s3BucketName, s3UnitName } from "./s3";
import { ValidationError, type Problem } from "../errors";
import type { RunNames } from "../naming";
import { placeholder } from "../placeholders";
import { depVar, kindFields } from "./kinds";
import { unitName } from "./postgres";
import { DEPS_FILE, type DepSpec } from "./spec";

/** What a run asks for its dependencies: warm where the warm layer serves the kind, or always cold. */
export const DEPS_REQUESTS = ["auto", "warm", "cold"] as const;
export type DepsRequest = (typeof DEPS_REQUESTS)[number];

export const POSTGRES_PORT = 5432;

export interface PostgresPlan {
  name: string;
  kind: "postgres";
  mode: "warm" | "cold";
  /** The run's database and role. */
  unit: string;
  /** The name the recipe's services reach it by (on the run's deps network). */
  host: string;
  extensions: string[];
  /** The warm instance, in warm mode. */
  warm?: PostgresContract;
}

export interface S3Plan {
  name: string;
  kind: "s3";
  mode: "warm" | "cold";
  /** The run's account (its access key). */
  unit: string;
  host: string;
  /** The run's buckets, by their full names. */
  buckets: string[];
  /** Its S3 API through the proxy (the warm Traefik's warm-s3 host, or the cold server's own). */
  publicEndpoint: string;
  /** Cold: the host the run's proxy routes to the run's own server (<name>.s3.<run domain>). */
  publicHost?: string;
  warm?: S3Contract;
}

/** A mail catcher of the run's own (Mailpit has no per-mailbox access control: never shared). */
export interface SmtpPlan {
  name: string;
  kind: "smtp";
  mode: "cold";
  /** The run's SMTP user name. */
  unit: string;
  host: string;
  /** The run's mail domain. */
  domain: string;
}

export const SMTP_PORT = 1025;
export const MAIL_API_PORT = 8025;

export interface OidcPlan {
  name: string;
  kind: "oidc";
}

/**
 * Another recipe of the operator's catalogue, deployed cold in the run stack next to the recipe under
 * test (never warm: it is an app, not a server units can be made on), at a domain of its own under
 * the run's.
 */
export interface RecipeDepPlan {
  name: string;
  kind: "recipe";
  mode: "cold";
  /** Its name in the catalogue. */
  recipe: string;
  /** Its folder: <catalogue>/<recipe>. */
  dir: string;
  /** Its STACK_NAME: the run's, then `-<name>` (a recipe's own services are `<run's>_<service>`). */
  stackName: string;
  /** Its DOMAIN: <name>.<run domain>. */
  domain: string;
  /** Its public URL. */
  url: string;
}

export type DepPlan = PostgresPlan | S3Plan | SmtpPlan | OidcPlan | RecipeDepPlan;

/** A dependency the run stack deploys or provisions (every kind but OIDC, which is the realm). */
export type ServedPlan = PostgresPlan | S3Plan | SmtpPlan | RecipeDepPlan;

/** What planning a `recipe` dependency (and an S3 server's public host) needs of the run. */
export interface DepContext {
  /** The operator's catalogue (absolute), if any. */
  catalogue?: string;
  /** The run's domain. */
  domain: string;
  /** A public URL of a host under the run's domain, as the run's proxy serves it. */
  url: (host: string) => string;
}

/** What the warm layer offers for dependencies, as the run's warm check found it. */
export interface WarmDeps {
  postgres?: PostgresContract;
  s3?: S3Contract;
  /** Why a warm instance the layer declares cannot be used, by kind. */
  problems?: Partial<Record<"postgres" | "s3", string>>;
}

/** The host name a dependency has on the run's deps network. */
export function depHost(name: string): string {
  return `ccci-dep-${name.replace(/_/g, "-")}`;
}

/** The run's network its services and its dependencies (or their gateways) share. */
export function depsNetwork(names: RunNames): string {
  return `${names.stackName}_deps`;
}

/** Whether the run has that network: a server of its own or a gateway (not a realm, not a catalogue recipe). */
export function hasDepsNetwork(deps: DepPlan[]): boolean {
  return deps.some((d) => d.kind !== "oidc" && d.kind !== "recipe");
}

export function planDeps(
  specs: DepSpec[],
  request: DepsRequest,
  warm: WarmDeps,
  names: RunNames,
  ssoOff: boolean,
  notes: string[],
  owner?: string,
  ctx?: DepContext,
): DepPlan[] {
  const problems: Problem[] = [];
  const at = (d: DepSpec, message: string) =>
    problems.push({ path: `${d.name}.kind`, file: DEPS_FILE, message });
  const out: DepPlan[] = [];
  for (const d of specs) {
    if (d.kind === "oidc") {
      if (ssoOff) at(d, "the recipe needs an OpenID provider, but the run has SSO off (--sso off)");
      out.push({ name: d.name, kind: "oidc" });
      continue;
    }
    if (d.kind === "smtp") {
      // Mailpit lets whoever reaches its API read every message: a shared one would show one run's
      // mail to another. Always the run's own (it starts in about a second).
      // Never a kind the warm layer serves, so `--deps warm` (and --quick) takes it as it always is.
      out.push({
        name: d.name,
        kind: "smtp",
        mode: "cold",
        unit: `ccci-${names.runId}-${d.name.replace(/_/g, "-")}`,
        host: depHost(d.name),
        domain: `${names.runId}.mail.test`,
      });
      continue;
    }
    if (d.kind === "recipe") {
      const r = recipeDep(d.name, d.recipe, names, ctx);
      if (typeof r === "string") at(d, r);
      else out.push(r);
      continue;
    }
    const base =
      d.kind === "postgres"
        ? {
            name: d.name,
            kind: "postgres" as const,
            unit: unitName(names.runId, d.name),
            host: depHost(d.name),
            extensions: d.extensions,
          }
        : d.kind === "s3"
          ? {
              name: d.name,
              kind: "s3" as const,
              unit: s3UnitName(names.runId, d.name, owner),
              host: depHost(d.name),
              buckets: d.buckets.map((b) => s3BucketName(names.runId, b)),
            }
          : undefined;
    if (!base) continue;
    const kind = base.kind;
    const instance = warm[kind];
    const usable = instance && !warm.problems?.[kind] ? instance : undefined;
    const why = warm.problems?.[kind] ?? `the warm layer serves no ${kind}`;
    const cold = () => out.push(withPublicEndpoint({ ...base, mode: "cold" } as ServedPlan, ctx));
    if (request === "cold") cold();
    else if (usable) out.push(withPublicEndpoint({ ...base, mode: "warm", warm: usable } as ServedPlan));
    else if (request === "warm") at(d, `a warm ${kind} was asked for (--deps warm), but ${why}`);
    else {
      notes.push(`dependency ${d.name}: no usable warm ${kind} (${why}); deployed cold in the run stack`);
      cold();
    }
  }
  if (problems.length > 0) throw new ValidationError("recipe dependencies", problems);
  return out;
}

/**
 * An S3 dependency's API through the proxy: the warm Traefik's route to the warm server, or a host
 * under the run's domain its own server is routed at (the internal endpoint where neither is known).
 */
function withPublicEndpoint(d: ServedPlan, ctx?: DepContext): ServedPlan {
  if (d.kind !== "s3") return d;
  const internal = `http://${d.host}:${S3_PORT}`;
  if (d.mode === "warm") return { ...d, publicEndpoint: d.warm?.publicEndpoint ?? internal };
  if (!ctx) return { ...d, publicEndpoint: internal };
  const publicHost = `${d.name.replace(/_/g, "-")}.s3.${ctx.domain}`;
  return { ...d, publicHost, publicEndpoint: ctx.url(publicHost) };
}

/** A catalogue recipe as a dependency of the run, or why it cannot be one. */
function recipeDep(
  name: string,
  recipe: string,
  names: RunNames,
  ctx: DepContext | undefined,
): RecipeDepPlan | string {
  if (!ctx?.catalogue)
    return `recipe ${recipe} is to come from the operator's catalogue, but none is set (run defaults' catalogue, or --catalogue)`;
  if (!path.isAbsolute(ctx.catalogue)) return `the catalogue ${ctx.catalogue} is not an absolute path`;
  // The name is a plain folder name (deps.yml's pattern): it cannot leave the catalogue.
  const dir = path.join(ctx.catalogue, recipe);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    return `the catalogue ${ctx.catalogue} has no recipe ${recipe}`;
  const label = name.replace(/_/g, "-");
  const domain = `${label}.${ctx.domain}`;
  return {
    name,
    kind: "recipe",
    mode: "cold",
    recipe,
    dir,
    stackName: `${names.stackName}-${label}`,
    domain,
    url: ctx.url(domain),
  };
}

/** The plain values of a dependency, known before the stack deploys; secret ones are placeholders. */
export function depValues(d: ServedPlan): Record<string, string> {
  if (d.kind === "recipe") return { host: d.domain, url: d.url };
  if (d.kind === "smtp")
    return {
      host: d.host,
      port: String(SMTP_PORT),
      domain: d.domain,
      from: `ci@${d.domain}`,
      user: d.unit,
      apiUrl: `http://${d.host}:${MAIL_API_PORT}`,
    };
  if (d.kind === "s3")
    return {
      endpoint: `http://${d.host}:${S3_PORT}`,
      publicEndpoint: d.publicEndpoint,
      region: S3_REGION,
      bucket: d.buckets[0],
      buckets: d.buckets.join(" "),
      accessKey: d.unit,
    };
  return {
    host: d.host,
    port: String(POSTGRES_PORT),
    database: d.unit,
    user: d.unit,
  };
}

/** The run variables of the run's dependencies (OIDC's are the run's own CI_OIDC_* values). */
export function depRunVars(deps: DepPlan[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const d of deps) {
    if (d.kind === "oidc") continue;
    const plain = depValues(d);
    for (const [field, info] of Object.entries(kindFields(d.kind))) {
      const name = depVar(d, field);
      vars[name] = info.secret ? placeholder(name) : plain[field];
    }
  }
  return vars;
}
