/**
 * HTTP through the CI's Traefik from the CI host: connect to the proxy's local port and name the
 * run's host in the Host header (and SNI), so no DNS record is needed for per-run domains.
 */
import * as http from "node:http";
import * as https from "node:https";

export interface ProxyAddress {
  /** Address the proxy listens on. Default: 127.0.0.1. */
  ip?: string;
  httpPort: number;
  httpsPort: number;
}

export interface HttpAnswer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** GET (or POST a form to) `url` through the proxy. TLS is not verified: CI certificates are self-signed. */
export function viaProxy(
  url: string,
  proxy: ProxyAddress,
  opts: { form?: Record<string, string>; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const u = new URL(url);
  const secure = u.protocol === "https:";
  const body = opts.form ? new URLSearchParams(opts.form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      {
        host: proxy.ip ?? "127.0.0.1",
        port: secure ? proxy.httpsPort : proxy.httpPort,
        path: `${u.pathname}${u.search}`,
        method: body ? "POST" : "GET",
        headers: {
          host: u.host,
          ...(body
            ? {
                "content-type": "application/x-www-form-urlencoded",
                "content-length": Buffer.byteLength(body),
              }
            : {}),
        },
        servername: u.hostname,
        rejectUnauthorized: false,
        timeout: opts.timeoutMs ?? 5000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            headers: res.headers,
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout after ${opts.timeoutMs ?? 5000} ms`)));
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

/** Traefik's own answer when no router matches: the app is not (yet) behind it. */
export function isTraefikNotFound(a: HttpAnswer): boolean {
  return a.status === 404 && a.body.trim() === "404 page not found";
}

/** Polls until `check` returns true or the time is up; returns the last error for the message. */
export async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  intervalMs = 1000,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (signal?.aborted) throw new Error(`${what}: interrupted`);
    try {
      if (await check()) return;
      last = "";
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `${what}: not ready after ${Math.round(timeoutMs / 1000)} s${last ? ` (last error: ${last})` : ""}`,
  );
}

/** Whether Traefik answers on its web entrypoint (any HTTP answer, e.g. its 404, will do). */
export async function proxyAnswers(proxy: ProxyAddress & { domain: string }): Promise<boolean> {
  return viaProxy(`http://cc-ci-health.${proxy.domain}/`, proxy).then(
    () => true,
    () => false,
  );
}
