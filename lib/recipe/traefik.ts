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
 */
import { durationNs } from "../units";
import { callHelper } from "./helpers";
import type { RouterSpec } from "./model";

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

/** Middleware types a recipe may use: none reads files, calls out, or runs code. */
export const ALLOWED_MIDDLEWARES = new Set([
  "addPrefix",
  "basicAuth",
  "buffering",
  "chain",
  "circuitBreaker",
  "compress",
  "contentType",
  "digestAuth",
  "errors",
  "grpcWeb",
  "headers",
  "inFlightReq",
  "ipAllowList",
  "ipWhiteList",
  "passTLSClientCert",
  "rateLimit",
  "redirectRegex",
  "redirectScheme",
  "replacePath",
  "replacePathRegex",
  "retry",
  "stripPrefix",
  "stripPrefixRegex",
]);
const TCP_MIDDLEWARES = new Set(["inFlightConn", "ipAllowList", "ipWhiteList"]);

/**
 * What holds or multiplies traffic inside the shared Traefik, found in Traefik's own source
 * (pkg/config/dynamic, v3.6): bounded so that no run can make Traefik hold more than a little per
 * request. `buffering` keeps bodies in memory up to its mem* thresholds and on Traefik's disk up to
 * its max* limits (0 = no limit, so unset ones are set here); `compress` keeps a response in memory
 * until minResponseBodyBytes; `retry` sends a request again `attempts` times; a health check probes
 * the run's servers every `interval`. (`mirroring`, which buffers whole bodies, cannot be declared
 * with labels: Traefik reads it only from files.)
 */
export const TRAEFIK_BOUNDS = {
  buffering: {
    memRequestBodyBytes: 256 * 1024,
    memResponseBodyBytes: 256 * 1024,
    maxRequestBodyBytes: 8 * 1024 * 1024,
    maxResponseBodyBytes: 8 * 1024 * 1024,
  },
  compressMinResponseBodyBytes: 256 * 1024,
  retryAttempts: 5,
  healthCheckInterval: "1s",
} as const;

const ENTRYPOINT_ALIASES: Record<string, "web" | "webSecure"> = {
  web: "web",
  http: "web",
  "web-secure": "webSecure",
  websecure: "webSecure",
  https: "webSecure",
};

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface RuleInfo {
  rule: string;
  priority: number;
  defaultRule?: boolean;
  catchAll?: boolean;
  error?: string;
  hostRegexps?: { arg: string; requiredSuffix: string; matchesEmpty: boolean }[];
  hostConfinement: { confined: boolean; hosts: string[]; suffixes: string[] };
}

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

  // Names the run declares, across all its services (Traefik's namespace is global): lower-cased,
  // since Traefik merges names case-insensitively.
  const own = {
    routers: new Set<string>(),
    services: new Set<string>(),
    middlewares: new Set<string>(),
    serversTransports: new Set<string>(),
  };
  for (const d of Object.values(decoded))
    for (const proto of ["http", "tcp", "udp"])
      for (const kind of Object.keys(own) as (keyof typeof own)[])
        for (const n of Object.keys(d.config?.[proto]?.[kind] ?? {})) own[kind].add(n.toLowerCase());

  const encodeReq: Record<
    string,
    { config: Obj; provider: { enable: boolean; network: string; lbswarm: boolean } }
  > = {};
  for (const i of withTraefik) {
    const d = decoded[i.key];
    const where = (k: string) => `services.${i.key}.deploy.labels${k ? `.${k}` : ""}`;
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

function rewriteConfig(
  d: Decoded,
  i: TraefikInput,
  o: TraefikOptions,
  own: Record<"routers" | "services" | "middlewares" | "serversTransports", Set<string>>,
  refuse: (k: string, m: string) => void,
  warn: (m: string) => void,
): { config: Obj; routers: RouterSpec[] } {
  const config: Obj = JSON.parse(JSON.stringify(d.config));
  const eps = o.entrypoints ?? { web: "web", webSecure: "web-secure" };
  const allowed = new Set((o.allowedRefs ?? []).map((r) => r.toLowerCase()));
  const routers: RouterSpec[] = [];
  const rename = (n: string) => runObjectName(o.stackName, n);
  /** A reference to an object of `kind`, renamed for the run; undefined (and refused) if it is not the run's. */
  const ref = (kind: keyof typeof own, value: string, at: string): string | undefined => {
    const [name, provider] = value.split("@", 2);
    if (provider === undefined || provider === "swarm" || provider === "docker") {
      if (own[kind].has(name.toLowerCase())) return rename(name);
      if (provider === undefined && kind === "services" && name.toLowerCase() === i.name.toLowerCase())
        return value;
      refuse(
        at,
        `${kind.slice(0, -1)} "${value}" is not one of this recipe's; a run may refer only to its own`,
      );
      return undefined;
    }
    if (allowed.has(value.toLowerCase())) return value;
    refuse(
      at,
      `"${value}" belongs to Traefik's ${provider} provider, which runs do not share (the operator may allow it)`,
    );
    return undefined;
  };
  const inDomain = (h: string) => {
    const host = h.toLowerCase().replace(/\.$/, "");
    return host === o.domain || host.endsWith(`.${o.domain}`);
  };
  const checkRule = (proto: "http" | "tcp", name: string, r: Obj): RuleInfo | undefined => {
    const info = d.rules[proto]?.[name];
    const at = `${proto}.routers.${name}.rule`;
    if (!info) return undefined;
    if (info.error) {
      refuse(at, `Traefik refuses the rule: ${info.error}`);
      return undefined;
    }
    if (info.defaultRule) {
      warn(
        `services.${i.key}.deploy.labels.${at}: no rule; Traefik's default rule routes only ${info.hostConfinement.hosts.join(", ")}`,
      );
      return info;
    }
    const c = info.hostConfinement;
    const outside = [
      ...c.hosts.filter((h) => !inDomain(h)),
      ...c.suffixes.filter(
        (s) => !(s.toLowerCase() === `.${o.domain}` || s.toLowerCase().endsWith(`.${o.domain}`)),
      ),
    ];
    const empty = (info.hostRegexps ?? []).filter((x) => x.matchesEmpty);
    if (!c.confined || outside.length > 0 || empty.length > 0 || info.catchAll) {
      const why = !c.confined
        ? "it can match hosts outside the run's domain (every || branch needs a Host or HostRegexp of the run, with no ! around it)"
        : outside.length > 0
          ? `it routes ${outside.join(", ")}, outside the run's domain ${o.domain}`
          : "a HostRegexp that matches the empty string matches every request";
      refuse(at, `${r.rule ?? info.rule}: ${why}`);
      return undefined;
    }
    return info;
  };

  for (const proto of ["http", "tcp", "udp"] as const) {
    const section = config[proto] as Obj | undefined;
    if (!section) continue;
    if (proto === "udp" && Object.keys(section.routers ?? {}).length > 0)
      refuse("udp.routers", "UDP routers cannot be confined to a run's domain");
    const newRouters: Obj = {};
    for (const [name, r] of Object.entries((section.routers ?? {}) as Obj)) {
      if (proto === "udp") continue;
      const info = checkRule(proto, name, r);
      if (!info) continue;
      if (proto === "tcp" && !r.tls) {
        refuse(`tcp.routers.${name}`, "a TCP router without TLS has no HostSNI to confine it to the run");
        continue;
      }
      if (r.priority !== undefined && r.priority > MAX_PRIORITY) {
        warn(
          `services.${i.key}.deploy.labels.${proto}.routers.${name}.priority: ${r.priority} lowered to ${MAX_PRIORITY}`,
        );
        r.priority = MAX_PRIORITY;
      }
      const entry = (r.entryPoints as string[] | undefined)?.length
        ? (r.entryPoints as string[])
        : ["web", "web-secure"];
      r.entryPoints = entry.flatMap((e) => {
        const alias = ENTRYPOINT_ALIASES[e.toLowerCase()];
        if (!alias)
          refuse(
            `${proto}.routers.${name}.entrypoints`,
            `entrypoint "${e}" does not exist in the CI's Traefik (web, web-secure)`,
          );
        return alias ? [eps[alias]] : [];
      });
      if (r.service) r.service = ref("services", r.service, `${proto}.routers.${name}.service`);
      if (r.middlewares)
        r.middlewares = (r.middlewares as string[])
          .map((m) => ref("middlewares", m, `${proto}.routers.${name}.middlewares`))
          .filter(Boolean);
      if (r.tls) {
        if (r.tls.domains?.length)
          refuse(
            `${proto}.routers.${name}.tls.domains`,
            "TLS domains are the CI's to set (its certificate is for *.<ci domain>)",
          );
        if (r.tls.options) refuse(`${proto}.routers.${name}.tls.options`, "TLS options are the CI's to set");
        if (r.tls.certResolver) {
          if (o.certResolver) r.tls.certResolver = o.certResolver;
          else {
            delete r.tls.certResolver;
            warn(
              `services.${i.key}.deploy.labels.${proto}.routers.${name}.tls.certresolver: no certificate resolver in this CI; the router uses Traefik's certificate`,
            );
          }
        }
      }
      newRouters[rename(name)] = r;
      routers.push({
        name: rename(name),
        rule: r.rule ?? info.rule,
        hosts: [...info.hostConfinement.hosts, ...info.hostConfinement.suffixes.map((s) => `*${s}`)],
      });
    }
    if (section.routers) section.routers = newRouters;
    for (const kind of ["services", "middlewares", "serversTransports"] as const) {
      if (!section[kind]) continue;
      const renamed: Obj = {};
      for (const [name, v] of Object.entries(section[kind] as Obj)) {
        checkObject(proto, kind, name, v as Obj, refuse, (k, val, at) => ref(k, val, at));
        renamed[rename(name)] = v;
      }
      section[kind] = renamed;
    }
  }
  if (hasContent(config.tls)) refuse("tls", "TLS stores and options are the CI's to set");
  if (o.plainHttp && config.http?.routers) addHttpTwins(config.http, eps);
  return { config, routers };
}

/** Whether a decoded section sets anything (Traefik's JSON has empty sections for what is not set). */
function hasContent(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v !== "object") return true;
  return Object.values(v as Obj).some(hasContent);
}

/** What a service, middleware or transport may be on a shared Traefik. */
function checkObject(
  proto: string,
  kind: "services" | "middlewares" | "serversTransports",
  name: string,
  v: Obj,
  refuse: (k: string, m: string) => void,
  ref: (
    kind: "services" | "middlewares" | "serversTransports",
    value: string,
    at: string,
  ) => string | undefined,
): void {
  const at = `${proto}.${kind}.${name}`;
  if (kind === "services") {
    for (const s of v.loadBalancer?.servers ?? [])
      if (s.url || s.address)
        refuse(
          `${at}.loadbalancer.server`,
          "servers by URL or address could reach anything; a run's service is reached by its port",
        );
    if (v.loadBalancer?.serversTransport)
      v.loadBalancer.serversTransport = ref(
        "serversTransports",
        v.loadBalancer.serversTransport,
        `${at}.loadbalancer.serverstransport`,
      );
    const hc = v.loadBalancer?.healthCheck as Obj | undefined;
    for (const key of ["interval", "unhealthyInterval"])
      if (
        typeof hc?.[key] === "string" &&
        durationNs(hc[key]) < durationNs(TRAEFIK_BOUNDS.healthCheckInterval)
      )
        refuse(
          `${at}.loadbalancer.healthcheck.${key.toLowerCase()}`,
          `${hc[key]} is under the shared Traefik's floor of ${TRAEFIK_BOUNDS.healthCheckInterval} between probes`,
        );
    for (const group of ["weighted", "mirroring", "failover"]) {
      const g = v[group];
      if (!g) continue;
      for (const s of g.services ?? [])
        if (s.name) s.name = ref("services", s.name, `${at}.${group}.services`);
      for (const m of g.mirrors ?? []) if (m.name) m.name = ref("services", m.name, `${at}.${group}.mirrors`);
      if (g.service) g.service = ref("services", g.service, `${at}.${group}.service`);
      if (g.fallback) g.fallback = ref("services", g.fallback, `${at}.${group}.fallback`);
    }
  } else if (kind === "middlewares") {
    const types = Object.keys(v);
    const allowed = proto === "tcp" ? TCP_MIDDLEWARES : ALLOWED_MIDDLEWARES;
    for (const t of types)
      if (!allowed.has(t))
        refuse(
          `${at}.${t.toLowerCase()}`,
          `middleware type ${t} is not allowed on the shared Traefik (it can call out, read files or run code)`,
        );
    if (v.buffering)
      for (const [key, cap] of Object.entries(TRAEFIK_BOUNDS.buffering)) {
        const asked = v.buffering[key] as number | undefined;
        if (asked === undefined || asked <= 0) v.buffering[key] = cap;
        else if (asked > cap)
          refuse(
            `${at}.buffering.${key.toLowerCase()}`,
            `${asked} bytes are over the shared Traefik's limit of ${cap}: it holds every such body`,
          );
      }
    const minCompressed = v.compress?.minResponseBodyBytes as number | undefined;
    if (minCompressed !== undefined && minCompressed > TRAEFIK_BOUNDS.compressMinResponseBodyBytes)
      refuse(
        `${at}.compress.minresponsebodybytes`,
        `${minCompressed} bytes are over the shared Traefik's limit of ${TRAEFIK_BOUNDS.compressMinResponseBodyBytes}: it holds a response that long in memory`,
      );
    const attempts = v.retry?.attempts as number | undefined;
    if (attempts !== undefined && attempts > TRAEFIK_BOUNDS.retryAttempts)
      refuse(
        `${at}.retry.attempts`,
        `${attempts} attempts are over the shared Traefik's limit of ${TRAEFIK_BOUNDS.retryAttempts}`,
      );
    if (v.basicAuth?.usersFile || v.digestAuth?.usersFile)
      refuse(`${at}`, "usersFile would be read from the shared Traefik's disk");
    if (v.chain?.middlewares)
      v.chain.middlewares = (v.chain.middlewares as string[]).map((m) =>
        ref("middlewares", m, `${at}.chain.middlewares`),
      );
    if (v.errors?.service) v.errors.service = ref("services", v.errors.service, `${at}.errors.service`);
  } else {
    for (const f of ["rootCAs", "certificates", "spiffe"])
      if (v[f]) refuse(`${at}.${f.toLowerCase()}`, `${f} are the CI's to set`);
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
