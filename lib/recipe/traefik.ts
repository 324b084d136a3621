/**
 * Stage 4 (Traefik): a recipe's Traefik labels, read by Traefik's own code (`ccci-traefik decode`:
 * its label decoder, the swarm provider's steps, its rule parser), checked as a policy on what they
 * decode to, rewritten for the run, and written back by Traefik's own encoder. The labels a run
 * deploys are therefore Traefik's rendering of a structure that passed the checks: a label Traefik
 * would read differently from us (key case, duplicate spellings, escapes, v2/v3 syntax) cannot slip by.
 *
 * Policy, on a Traefik shared by every run and the warm layer:
 *  - every HTTP router's rule is confined to hosts inside the run's domain (every `||` branch bounded
 *    by Host/HostRegexp of the run; no `!` escape; no HostRegexp that could match other hosts);
 *  - TCP routers only with TLS and a HostSNI inside the run's domain; no UDP routers;
 *  - references (router → service, middlewares, transports) only to the run's own objects, or to
 *    the operator's allowlist; names get the run's prefix, so no run can shadow or void another's;
 *  - no forwardAuth, no servers by URL, no TLS stores/options/domains, no middleware that reads
 *    files or runs plugins; priorities capped; entrypoints and cert resolvers mapped to the CI's.
 * This module decodes, walks each service's configuration (rewriteConfig) and encodes; the checks
 * that need no run context (rule confinement, entrypoints, objects and their bounds) are in
 * traefikPolicy.ts.
 */
import { callHelper } from "./helpers";
import type { RouterSpec } from "./model";
import {
  checkObject,
  checkTlsSection,
  runEntrypoints,
  whyUnconfined,
  type ObjectKind,
  type Refuse,
  type RuleInfo,
} from "./traefikPolicy";

export { ALLOWED_MIDDLEWARES, TRAEFIK_BOUNDS } from "./traefikPolicy";

export interface TraefikOptions {
  stackName: string;
  domain: string;
  proxyNetwork: string;
  entrypoints?: { web: string; webSecure: string };
  certResolver?: string;
  plainHttp?: boolean;
  /** Traefik's core.defaultRuleSyntax. */
  ruleSyntax: "v2" | "v3";
  /** References outside the run a recipe may make (`name@file`), from the operator. Default: none. */
  allowedRefs?: string[];
}

/** Highest router priority a recipe may set (Traefik's default is the rule's length). */
export const MAX_PRIORITY = 10_000;

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Decoded {
  config: Obj | null;
  effective: Obj | null;
  provider: { enable: boolean; network: string; lbswarm: boolean } | null;
  errors: { stage: string; error: string; keys?: string[]; router?: string }[];
  keyErrors: Record<string, string>;
  ignoredKeys: Record<string, string>;
  rules: { http?: Record<string, RuleInfo>; tcp?: Record<string, RuleInfo> };
}

export interface TraefikInput {
  key: string;
  /** The swarm service's name (Traefik names a default service after it). */
  name: string;
  labels: Record<string, string>;
}

export interface TraefikResult {
  labels: Record<string, string>;
  routers: RouterSpec[];
}

/** True for the labels the swarm provider reads (its root is matched case-insensitively by the filters). */
export function isTraefikLabel(key: string): boolean {
  return key.toLowerCase().startsWith("traefik.");
}

/**
 * The recipe's own label key for a path of the decoded configuration (`http.routers.a.rule` →
 * `traefik.http.routers.A.Rule`, as the recipe spelled it: Traefik reads keys case-insensitively),
 * so a problem names what the maintainer wrote. A path no label spells whole (a router, a section)
 * names the labels under it by their common prefix; a path no label has is given as `traefik.<path>`.
 */
export function recipeLabelKey(keys: string[], path: string): string {
  if (path === "") return path;
  const want = (isTraefikLabel(path) ? path : `traefik.${path}`).toLowerCase();
  const exact = keys.find((k) => k.toLowerCase() === want);
  if (exact) return exact;
  const under = keys.find(
    (k) => k.toLowerCase().startsWith(`${want}.`) || k.toLowerCase().startsWith(`${want}[`),
  );
  return under ? under.slice(0, want.length) : isTraefikLabel(path) ? path : `traefik.${path}`;
}

/**
 * Checks and rewrites the Traefik labels of every service of a recipe (one decode and one encode
 * call). `problem(service, label path, message)` reports what is refused.
 */
export function rewriteTraefik(
  inputs: TraefikInput[],
  o: TraefikOptions,
  problem: (service: string, path: string, message: string) => void,
  warn: (message: string) => void,
): Map<string, TraefikResult> {
  const out = new Map<string, TraefikResult>();
  const withTraefik = inputs.filter((i) => Object.keys(i.labels).some(isTraefikLabel));
  for (const i of inputs)
    out.set(i.key, {
      labels: Object.fromEntries(Object.entries(i.labels).filter(([k]) => !isTraefikLabel(k))),
      routers: [],
    });
  if (withTraefik.length === 0) return out;
  const decoded = callHelper<{ services: Record<string, Decoded> }>("traefik", "decode", {
    services: Object.fromEntries(
      withTraefik.map((i) => [
        i.key,
        {
          name: i.name,
          labels: Object.fromEntries(Object.entries(i.labels).filter(([k]) => isTraefikLabel(k))),
        },
      ]),
    ),
    options: { defaultRuleSyntax: o.ruleSyntax },
  }).services;

  const own = ownNames(decoded);

  const encodeReq: Record<
    string,
    { config: Obj; provider: { enable: boolean; network: string; lbswarm: boolean } }
  > = {};
  for (const i of withTraefik) {
    const d = decoded[i.key];
    const keys = Object.keys(i.labels);
    const where = (k: string) => `services.${i.key}.deploy.labels${k ? `.${recipeLabelKey(keys, k)}` : ""}`;
    const refuse = (k: string, m: string) => problem(i.key, where(k), m);
    let refused = false;
    const refuseAll = (k: string, m: string) => {
      refused = true;
      refuse(k, m);
    };
    for (const e of d.errors)
      refuseAll(e.keys?.[0] ?? (e.router ? `routers.${e.router}` : ""), `Traefik refuses it: ${e.error}`);
    for (const [k, e] of Object.entries(d.keyErrors))
      if (!d.errors.some((x) => x.keys?.includes(k))) refuseAll(k, `Traefik refuses it: ${e}`);
    for (const [k, why] of Object.entries(d.ignoredKeys)) {
      if (/allowEmpty|only `true`|anything but/i.test(why))
        warn(`${where(k)}: Traefik reads this as unset (${why})`);
      else
        refuseAll(
          k,
          `unknown to Traefik or ignored by it (${why}); refused so that no label means something else than it seems`,
        );
    }
    if (refused || !d.config || !d.provider) continue;
    if (!d.provider.enable) continue; // Traefik will not route it: nothing to deploy but the other labels
    if (d.provider.lbswarm)
      warn(`${where("traefik.swarm.lbswarm")}: ignored (service virtual IPs do not route on every swarm)`);
    const cfg = rewriteConfig(d, i, o, own, (k, m) => refuseAll(k, m), warn);
    if (refused) continue;
    encodeReq[i.key] = {
      config: cfg.config,
      provider: { enable: true, network: o.proxyNetwork, lbswarm: false },
    };
    out.get(i.key)!.routers = cfg.routers;
  }
  if (Object.keys(encodeReq).length === 0) return out;
  const encoded = callHelper<{ services: Record<string, { labels: Record<string, string> }> }>(
    "traefik",
    "encode",
    { services: encodeReq },
  ).services;
  for (const [key, e] of Object.entries(encoded)) Object.assign(out.get(key)!.labels, e.labels);
  return out;
}

/**
 * The run's name for a recipe's Traefik object: prefixed with the run's STACK_NAME unless the recipe
 * already named it after `${STACK_NAME}` (as Co-op Cloud recipes do). Only the run's own prefix
 * counts, so no run can take a name of another's.
 */
export function runObjectName(stack: string, name: string): string {
  return name.toLowerCase().startsWith(stack.toLowerCase()) ? name : `${stack}-${name}`;
}

/** Names the run declares, per kind, lower-cased (Traefik's namespace is global and case-insensitive). */
type OwnNames = Record<"routers" | ObjectKind, Set<string>>;

/**
 * The names the run declares, across all its services (Traefik's namespace is global: a reference
 * may name an object another service of the run declares): lower-cased, since Traefik merges names
 * case-insensitively.
 */
function ownNames(decoded: Record<string, Decoded>): OwnNames {
  const own: OwnNames = {
    routers: new Set<string>(),
    services: new Set<string>(),
    middlewares: new Set<string>(),
    serversTransports: new Set<string>(),
  };
  for (const d of Object.values(decoded))
    for (const proto of ["http", "tcp", "udp"])
      for (const kind of Object.keys(own) as (keyof OwnNames)[])
        for (const n of Object.keys(d.config?.[proto]?.[kind] ?? {})) own[kind].add(n.toLowerCase());
  return own;
}

/** What rewriting one service's configuration needs: the run, its own names, and where to report. */
interface RewriteContext {
  i: TraefikInput;
  o: TraefikOptions;
  rules: Decoded["rules"];
  own: OwnNames;
  /** The operator's allowlist of references outside the run, lower-cased. */
  allowed: Set<string>;
  eps: { web: string; webSecure: string };
  refuse: Refuse;
  warn: (m: string) => void;
}

/**
 * One service's decoded configuration, checked and rewritten for the run, section by section: its
 * routers (confined to the run's domain), its services, middlewares and transports (traefikPolicy.ts),
 * no TLS stores or options of its own, and plain-HTTP twins when the CI serves HTTP. The configuration
 * to encode, and the routers the run exposes.
 */
function rewriteConfig(
  d: Decoded,
  i: TraefikInput,
  o: TraefikOptions,
  own: OwnNames,
  refuse: Refuse,
  warn: (m: string) => void,
): { config: Obj; routers: RouterSpec[] } {
  const config: Obj = JSON.parse(JSON.stringify(d.config));
  const ctx: RewriteContext = {
    i,
    o,
    rules: d.rules,
    own,
    allowed: new Set((o.allowedRefs ?? []).map((r) => r.toLowerCase())),
    eps: o.entrypoints ?? { web: "web", webSecure: "web-secure" },
    refuse,
    warn,
  };
  const routers: RouterSpec[] = [];
  for (const proto of ["http", "tcp", "udp"] as const) {
    const section = config[proto] as Obj | undefined;
    if (!section) continue;
    routers.push(...rewriteRouters(ctx, proto, section));
    rewriteObjects(ctx, proto, section);
  }
  checkTlsSection(config.tls, refuse);
  if (o.plainHttp && config.http?.routers) addHttpTwins(config.http, ctx.eps);
  return { config, routers };
}

/** A warning's path: the label `k` of the service being rewritten. */
function labelAt(ctx: RewriteContext, k: string): string {
  return `services.${ctx.i.key}.deploy.labels.${recipeLabelKey(Object.keys(ctx.i.labels), k)}`;
}

/**
 * A reference to an object of `kind`, renamed for the run; undefined (and refused) if it is not the
 * run's. Without a provider (or @swarm, @docker) it must name one of the run's objects, or the default
 * service Traefik names after the swarm service; another provider's object is shared by every run, so
 * only the operator's allowlist lets it through.
 */
function refer(ctx: RewriteContext, kind: ObjectKind, value: string, at: string): string | undefined {
  const [name, provider] = value.split("@", 2);
  if (provider === undefined || provider === "swarm" || provider === "docker") {
    if (ctx.own[kind].has(name.toLowerCase())) return runObjectName(ctx.o.stackName, name);
    if (provider === undefined && kind === "services" && name.toLowerCase() === ctx.i.name.toLowerCase())
      return value;
    ctx.refuse(
      at,
      `${kind.slice(0, -1)} "${value}" is not one of this recipe's; a run may refer only to its own`,
    );
    return undefined;
  }
  if (ctx.allowed.has(value.toLowerCase())) return value;
  ctx.refuse(
    at,
    `"${value}" belongs to Traefik's ${provider} provider, which runs do not share (the operator may allow it)`,
  );
  return undefined;
}

/**
 * One section's routers, kept (renamed for the run) only if they pass: the RouterSpecs of those kept.
 * UDP routers are refused outright (a datagram names no host to confine them to) and dropped.
 */
function rewriteRouters(ctx: RewriteContext, proto: "http" | "tcp" | "udp", section: Obj): RouterSpec[] {
  const specs: RouterSpec[] = [];
  if (!section.routers) return specs;
  if (proto === "udp") {
    if (Object.keys(section.routers as Obj).length > 0)
      ctx.refuse("udp.routers", "UDP routers cannot be confined to a run's domain");
    section.routers = {};
    return specs;
  }
  const kept: Obj = {};
  for (const [name, r] of Object.entries(section.routers as Obj)) {
    const spec = rewriteRouter(ctx, proto, name, r);
    if (!spec) continue;
    kept[spec.name] = r;
    specs.push(spec);
  }
  section.routers = kept;
  return specs;
}

/**
 * One HTTP or TCP router, rewritten in place for the run; undefined if it is dropped: its rule must
 * confine it to the run's domain, and a TCP router needs TLS (its HostSNI is what confines it). Its
 * priority, entrypoints, references and TLS settings are then made the run's.
 */
function rewriteRouter(
  ctx: RewriteContext,
  proto: "http" | "tcp",
  name: string,
  r: Obj,
): RouterSpec | undefined {
  const info = checkRule(ctx, proto, name, r);
  if (!info) return undefined;
  if (proto === "tcp" && !r.tls) {
    ctx.refuse(`tcp.routers.${name}`, "a TCP router without TLS has no HostSNI to confine it to the run");
    return undefined;
  }
  capPriority(ctx, proto, name, r);
  r.entryPoints = runEntrypoints(
    r.entryPoints as string[] | undefined,
    ctx.eps,
    `${proto}.routers.${name}.entrypoints`,
    ctx.refuse,
  );
  referRouterTargets(ctx, proto, name, r);
  if (r.tls) rewriteRouterTls(ctx, proto, name, r.tls as Obj);
  return {
    name: runObjectName(ctx.o.stackName, name),
    rule: r.rule ?? info.rule,
    hosts: [...info.hostConfinement.hosts, ...info.hostConfinement.suffixes.map((s) => `*${s}`)],
  };
}

/**
 * The router's rule as Traefik parsed it, if it keeps the router inside the run's domain (the shared
 * Traefik also routes the warm layer and every other run); undefined (and refused) if Traefik refuses
 * it or it could match a host outside. Without a rule Traefik's default one applies: only a warning.
 */
function checkRule(ctx: RewriteContext, proto: "http" | "tcp", name: string, r: Obj): RuleInfo | undefined {
  const info = ctx.rules[proto]?.[name];
  const at = `${proto}.routers.${name}.rule`;
  if (!info) return undefined;
  if (info.error) {
    ctx.refuse(at, `Traefik refuses the rule: ${info.error}`);
    return undefined;
  }
  if (info.defaultRule) {
    ctx.warn(
      `${labelAt(ctx, at)}: no rule; Traefik's default rule routes only ${info.hostConfinement.hosts.join(", ")}`,
    );
    return info;
  }
  const why = whyUnconfined(info, ctx.o.domain);
  if (why === undefined) return info;
  ctx.refuse(at, `${r.rule ?? info.rule}: ${why}`);
  return undefined;
}

/**
 * A priority above MAX_PRIORITY is lowered to it, with a warning: no recipe's router outranks
 * everything else on the shared Traefik.
 */
function capPriority(ctx: RewriteContext, proto: "http" | "tcp", name: string, r: Obj): void {
  if (r.priority !== undefined && r.priority > MAX_PRIORITY) {
    ctx.warn(
      `${labelAt(ctx, `${proto}.routers.${name}.priority`)}: ${r.priority} lowered to ${MAX_PRIORITY}`,
    );
    r.priority = MAX_PRIORITY;
  }
}

/** The router's service and middlewares, resolved as the run's own (refused middlewares are dropped). */
function referRouterTargets(ctx: RewriteContext, proto: "http" | "tcp", name: string, r: Obj): void {
  if (r.service) r.service = refer(ctx, "services", r.service, `${proto}.routers.${name}.service`);
  if (r.middlewares)
    r.middlewares = (r.middlewares as string[])
      .map((m) => refer(ctx, "middlewares", m, `${proto}.routers.${name}.middlewares`))
      .filter(Boolean);
}

/**
 * The router's TLS is the CI's: its domains and options are refused (the CI's certificate covers the
 * run's hosts), and a certificate resolver becomes the CI's, or Traefik's certificate (with a
 * warning) where the CI has none.
 */
function rewriteRouterTls(ctx: RewriteContext, proto: "http" | "tcp", name: string, tls: Obj): void {
  if (tls.domains?.length)
    ctx.refuse(
      `${proto}.routers.${name}.tls.domains`,
      "TLS domains are the CI's to set (its certificate is for *.<ci domain>)",
    );
  if (tls.options) ctx.refuse(`${proto}.routers.${name}.tls.options`, "TLS options are the CI's to set");
  if (!tls.certResolver) return;
  if (ctx.o.certResolver) tls.certResolver = ctx.o.certResolver;
  else {
    delete tls.certResolver;
    ctx.warn(
      `${labelAt(ctx, `${proto}.routers.${name}.tls.certresolver`)}: no certificate resolver in this CI; the router uses Traefik's certificate`,
    );
  }
}

/**
 * One section's services, middlewares and transports, each checked against the shared Traefik's
 * policy (checkObject, which also resolves their references) and renamed for the run.
 */
function rewriteObjects(ctx: RewriteContext, proto: "http" | "tcp" | "udp", section: Obj): void {
  for (const kind of ["services", "middlewares", "serversTransports"] as const) {
    if (!section[kind]) continue;
    const renamed: Obj = {};
    for (const [name, v] of Object.entries(section[kind] as Obj)) {
      checkObject(proto, kind, name, v as Obj, ctx.refuse, (k, val, at) => refer(ctx, k, val, at));
      renamed[runObjectName(ctx.o.stackName, name)] = v;
    }
    section[kind] = renamed;
  }
}

/**
 * Over plain HTTP, each HTTP router that is not on the web entrypoint gets a twin on web with the
 * same rule, service and priority, without TLS and without redirect-to-HTTPS middlewares.
 */
function addHttpTwins(http: Obj, eps: { web: string; webSecure: string }): void {
  const redirecting = new Set(
    Object.entries((http.middlewares ?? {}) as Obj)
      .filter(([, m]) => m.redirectScheme)
      .map(([n]) => n),
  );
  for (const [name, r] of Object.entries({ ...(http.routers as Obj) })) {
    if ((r.entryPoints as string[]).includes(eps.web)) continue;
    const twin: Obj = { rule: r.rule, entryPoints: [eps.web] };
    for (const k of ["service", "priority", "ruleSyntax"]) if (r[k] !== undefined) twin[k] = r[k];
    const kept = ((r.middlewares ?? []) as string[]).filter((m) => !redirecting.has(m));
    if (kept.length > 0) twin.middlewares = kept;
    http.routers[`${name}-http`] = twin;
  }
}
