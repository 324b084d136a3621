/**
 * Stage 4 (Traefik), continued: the policy traefik.ts's rewriteConfig applies to what Traefik decoded,
 * on the Traefik every run and the warm layer share. A router's rule must keep it inside the run's
 * domain, and its entrypoints are the CI's; a recipe sets no TLS stores or options; its services,
 * middlewares and servers transports reach no servers by URL, use no middleware that calls out,
 * reads files or runs code, bring no certificates, and buffer, compress, retry and probe within
 * TRAEFIK_BOUNDS. The references objects make are resolved (or refused) by the `ref` rewriteConfig
 * passes.
 */
import { durationNs } from "../units";

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

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The kinds of Traefik object a router or another object can refer to. */
export type ObjectKind = "services" | "middlewares" | "serversTransports";

/** Reports a refused label: its path under the service's deploy.labels, and why. */
export type Refuse = (k: string, m: string) => void;

/** Resolves a reference to an object of `kind` for the run; undefined (and refused) if not the run's. */
export type Ref = (kind: ObjectKind, value: string, at: string) => string | undefined;

/** What Traefik's rule parser (`ccci-traefik decode`) tells of a router's rule. */
export interface RuleInfo {
  rule: string;
  priority: number;
  defaultRule?: boolean;
  catchAll?: boolean;
  error?: string;
  hostRegexps?: { arg: string; requiredSuffix: string; matchesEmpty: boolean }[];
  hostConfinement: { confined: boolean; hosts: string[]; suffixes: string[] };
}

/**
 * Why a parsed rule could route requests outside `domain` (the shared Traefik also routes the warm
 * layer and every other run): a branch not bounded by a host, a host or suffix outside it, or a
 * HostRegexp (or catch-all) that matches every request. Undefined if none.
 */
export function whyUnconfined(info: RuleInfo, domain: string): string | undefined {
  const c = info.hostConfinement;
  const outside = [
    ...c.hosts.filter((h) => !inDomain(h, domain)),
    ...c.suffixes.filter(
      (s) => !(s.toLowerCase() === `.${domain}` || s.toLowerCase().endsWith(`.${domain}`)),
    ),
  ];
  const empty = (info.hostRegexps ?? []).filter((x) => x.matchesEmpty);
  if (c.confined && outside.length === 0 && empty.length === 0 && !info.catchAll) return undefined;
  if (!c.confined)
    return "it can match hosts outside the run's domain (every || branch needs a Host or HostRegexp of the run, with no ! around it)";
  if (outside.length > 0) return `it routes ${outside.join(", ")}, outside the run's domain ${domain}`;
  return "a HostRegexp that matches the empty string matches every request";
}

/** Whether host `h` (any case, with or without the root's dot) is `domain` or under it. */
function inDomain(h: string, domain: string): boolean {
  const host = h.toLowerCase().replace(/\.$/, "");
  return host === domain || host.endsWith(`.${domain}`);
}

/** The spellings of the CI's two entrypoints a recipe may use (lower-cased). */
const ENTRYPOINT_ALIASES: Record<string, "web" | "webSecure"> = {
  web: "web",
  http: "web",
  "web-secure": "webSecure",
  websecure: "webSecure",
  https: "webSecure",
};

/**
 * The CI's entrypoints for the ones a router asks (both when it asks none): the usual spellings of
 * web and web-secure map to the CI's `eps`; any other does not exist in the CI's Traefik and is
 * refused at `at`.
 */
export function runEntrypoints(
  asked: string[] | undefined,
  eps: { web: string; webSecure: string },
  at: string,
  refuse: Refuse,
): string[] {
  const entry = asked?.length ? asked : ["web", "web-secure"];
  return entry.flatMap((e) => {
    const alias = ENTRYPOINT_ALIASES[e.toLowerCase()];
    if (!alias) refuse(at, `entrypoint "${e}" does not exist in the CI's Traefik (web, web-secure)`);
    return alias ? [eps[alias]] : [];
  });
}

/**
 * TLS stores and options are the CI's to set (its certificate serves every run): a recipe's TLS
 * section is refused if it sets anything.
 */
export function checkTlsSection(tls: unknown, refuse: Refuse): void {
  if (hasContent(tls)) refuse("tls", "TLS stores and options are the CI's to set");
}

/** Whether a decoded section sets anything (Traefik's JSON has empty sections for what is not set). */
function hasContent(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v !== "object") return true;
  return Object.values(v as Obj).some(hasContent);
}

/**
 * What a service, middleware or transport may be on a shared Traefik: refuses what it may not be,
 * bounds what it may hold, and rewrites the references it makes (in place) for the run.
 */
export function checkObject(
  proto: string,
  kind: ObjectKind,
  name: string,
  v: Obj,
  refuse: Refuse,
  ref: Ref,
): void {
  const at = `${proto}.${kind}.${name}`;
  if (kind === "services") checkService(at, v, refuse, ref);
  else if (kind === "middlewares") checkMiddleware(proto, at, v, refuse, ref);
  else checkTransport(at, v, refuse);
}

/**
 * A service reaches only the run's own tasks (by port, never by URL or address, which could reach
 * anything), through the run's own transport, probed no more often than the shared floor; the
 * services it balances, mirrors or fails over to must be the run's too.
 */
function checkService(at: string, v: Obj, refuse: Refuse, ref: Ref): void {
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
  checkHealthCheck(at, v.loadBalancer?.healthCheck as Obj | undefined, refuse);
  referServiceGroups(at, v, ref);
}

/**
 * A health check probes the run's servers at most once per TRAEFIK_BOUNDS.healthCheckInterval: the
 * shared Traefik does the probing.
 */
function checkHealthCheck(at: string, hc: Obj | undefined, refuse: Refuse): void {
  for (const key of ["interval", "unhealthyInterval"])
    if (typeof hc?.[key] === "string" && durationNs(hc[key]) < durationNs(TRAEFIK_BOUNDS.healthCheckInterval))
      refuse(
        `${at}.loadbalancer.healthcheck.${key.toLowerCase()}`,
        `${hc[key]} is under the shared Traefik's floor of ${TRAEFIK_BOUNDS.healthCheckInterval} between probes`,
      );
}

/** The services a weighted, mirroring or failover service sends to, resolved as the run's own. */
function referServiceGroups(at: string, v: Obj, ref: Ref): void {
  for (const group of ["weighted", "mirroring", "failover"]) {
    const g = v[group];
    if (!g) continue;
    for (const s of g.services ?? []) if (s.name) s.name = ref("services", s.name, `${at}.${group}.services`);
    for (const m of g.mirrors ?? []) if (m.name) m.name = ref("services", m.name, `${at}.${group}.mirrors`);
    if (g.service) g.service = ref("services", g.service, `${at}.${group}.service`);
    if (g.fallback) g.fallback = ref("services", g.fallback, `${at}.${group}.fallback`);
  }
}

/**
 * A middleware is of an allowed type, holds no more than TRAEFIK_BOUNDS allows, reads no users file
 * from the shared Traefik's disk, and chains to or serves errors from the run's own objects only.
 */
function checkMiddleware(proto: string, at: string, v: Obj, refuse: Refuse, ref: Ref): void {
  refuseMiddlewareTypes(proto, at, v, refuse);
  if (v.buffering) boundBuffering(at, v.buffering as Obj, refuse);
  boundCompressAndRetry(at, v, refuse);
  if (v.basicAuth?.usersFile || v.digestAuth?.usersFile)
    refuse(`${at}`, "usersFile would be read from the shared Traefik's disk");
  if (v.chain?.middlewares)
    v.chain.middlewares = (v.chain.middlewares as string[]).map((m) =>
      ref("middlewares", m, `${at}.chain.middlewares`),
    );
  if (v.errors?.service) v.errors.service = ref("services", v.errors.service, `${at}.errors.service`);
}

/**
 * Only the allowed middleware types (TCP ones for a TCP middleware): the others can call out, read
 * files or run code.
 */
function refuseMiddlewareTypes(proto: string, at: string, v: Obj, refuse: Refuse): void {
  const allowed = proto === "tcp" ? TCP_MIDDLEWARES : ALLOWED_MIDDLEWARES;
  for (const t of Object.keys(v))
    if (!allowed.has(t))
      refuse(
        `${at}.${t.toLowerCase()}`,
        `middleware type ${t} is not allowed on the shared Traefik (it can call out, read files or run code)`,
      );
}

/**
 * Buffering's limits, which Traefik reads as unlimited when unset or 0, are set to the shared caps;
 * one asked above its cap is refused (Traefik holds every such body).
 */
function boundBuffering(at: string, buffering: Obj, refuse: Refuse): void {
  for (const [key, cap] of Object.entries(TRAEFIK_BOUNDS.buffering)) {
    const asked = buffering[key] as number | undefined;
    if (asked === undefined || asked <= 0) buffering[key] = cap;
    else if (asked > cap)
      refuse(
        `${at}.buffering.${key.toLowerCase()}`,
        `${asked} bytes are over the shared Traefik's limit of ${cap}: it holds every such body`,
      );
  }
}

/** compress holds a response in memory up to its minimum size, retry multiplies requests: both capped. */
function boundCompressAndRetry(at: string, v: Obj, refuse: Refuse): void {
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
}

/** A servers transport brings no CAs, certificates or SPIFFE identity: trust is the CI's to set. */
function checkTransport(at: string, v: Obj, refuse: Refuse): void {
  for (const f of ["rootCAs", "certificates", "spiffe"])
    if (v[f]) refuse(`${at}.${f.toLowerCase()}`, `${f} are the CI's to set`);
}
