/**
 * Units on the warm S3 server (the Versity S3 Gateway): a run's buckets and an account of the run's
 * own (role `user`: it may use only the buckets it owns, and create none), made and removed by the
 * server's root account through its admin API — on a port of its own that only the CI host reaches
 * — and its S3 API (emptying a bucket before it goes).
 *
 * An account's access key names its state backend and its run: `ccci-<owner>-<run id>-<dependency>`
 * (`ccci-none-…` without a backend), so audits tell whose a unit is with no other record.
 *
 * These functions run inside the Pulumi dynamic provider (lib/deps/resources.ts), which Pulumi
 * serialises with what it captures: crypto is taken by `require` in the function that uses it.
 */

export interface S3Login {
  /** Base URL, e.g. http://127.0.0.1:17070. */
  endpoint: string;
  access: string;
  secret: string;
  region: string;
}

/** The root account's two ways in from the CI host. */
export interface S3Admin {
  /** The admin API (users, bucket creation and owners). */
  admin: S3Login;
  /** The S3 API (listing and deleting objects, deleting buckets). */
  api: S3Login;
}

export const S3_REGION = "us-east-1";

/** The root account's ways in, as the warm contract describes them. */
export function s3Admin(c: {
  admin: { endpoint: string; access: string; secret: string };
  apiEndpoint: string;
  region: string;
}): S3Admin {
  const creds = { access: c.admin.access, secret: c.admin.secret, region: c.region };
  return { admin: { endpoint: c.admin.endpoint, ...creds }, api: { endpoint: c.apiEndpoint, ...creds } };
}
export const S3_PORT = 7070;
/** `ccci-<12 hex or none>-<run id>-<dependency>` */
export const S3_UNIT_PATTERN =
  /^ccci-([0-9a-f]{12}|none)-([a-z0-9]{1,4}-[0-9a-f]{6})-([a-z][a-z0-9_]{0,15})$/;

export function s3UnitName(runId: string, dep: string, owner?: string): string {
  return `ccci-${owner ?? "none"}-${runId}-${dep}`;
}

/** A run's bucket: `<run id>-<bucket>` (≤ 44 characters, S3's rules kept). */
export function s3BucketName(runId: string, bucket: string): string {
  return `${runId}-${bucket}`;
}

/**
 * Signature Version 4 of an S3 request (payload hashed): the headers to send, `authorization` among
 * them. `host` is signed and left for the HTTP client to send. Pure: `now` is given.
 */
export function signV4(
  login: { access: string; secret: string; region: string },
  req: {
    method: string;
    host: string;
    path: string;
    query?: Record<string, string>;
    headers?: Record<string, string>;
    body?: string;
  },
  now: Date,
): { headers: Record<string, string>; canonicalPath: string; query: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- captured by Pulumi's serialiser
  const crypto = require("node:crypto") as typeof import("node:crypto");
  const sha = (s: string | Buffer) => crypto.createHash("sha256").update(s).digest("hex");
  const hmac = (k: string | Buffer, s: string) => crypto.createHmac("sha256", k).update(s).digest();
  const enc = (s: string) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const day = stamp.slice(0, 8);
  const headers: Record<string, string> = {
    host: req.host,
    "x-amz-date": stamp,
    "x-amz-content-sha256": sha(req.body ?? ""),
    ...Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  };
  const names = Object.keys(headers).sort();
  const query = Object.entries(req.query ?? {})
    .map(([k, v]) => `${enc(k)}=${enc(v)}`)
    .sort()
    .join("&");
  const canonicalPath = req.path
    .split("/")
    .map((p) => enc(p))
    .join("/");
  const canonical = [
    req.method,
    canonicalPath,
    query,
    ...names.map((n) => `${n}:${headers[n].trim()}`),
    "",
    names.join(";"),
    headers["x-amz-content-sha256"],
  ].join("\n");
  const scope = `${day}/${login.region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", stamp, scope, sha(canonical)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${login.secret}`, day), login.region), "s3"), "aws4_request");
  const signature = crypto.createHmac("sha256", key).update(toSign).digest("hex");
  const { host: _host, ...sent } = headers;
  return {
    headers: {
      ...sent,
      authorization: `AWS4-HMAC-SHA256 Credential=${login.access}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
    },
    canonicalPath,
    query,
  };
}

/** A signed S3 request, its status and body. */
export async function s3Request(
  login: S3Login,
  method: string,
  path: string,
  opts: { query?: Record<string, string>; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string }> {
  const url = new URL(login.endpoint);
  const body = opts.body ?? "";
  const signed = signV4(
    login,
    { method, host: url.host, path, query: opts.query, headers: opts.headers, body },
    new Date(),
  );
  const res = await fetch(
    `${login.endpoint}${signed.canonicalPath}${signed.query ? `?${signed.query}` : ""}`,
    {
      method,
      headers: signed.headers,
      body: body === "" ? undefined : body,
      signal: AbortSignal.timeout(30_000),
    },
  );
  return { status: res.status, text: await res.text() };
}

/** `<Tag>value</Tag>` values, in order, entities decoded (the admin API and S3 answer XML). */
export function xmlValues(xml: string, tag: string): string[] {
  const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
  return [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, "g"))].map((m) =>
    m[1].replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (all, e: string) =>
      e.startsWith("#x")
        ? String.fromCodePoint(parseInt(e.slice(2), 16))
        : e.startsWith("#")
          ? String.fromCodePoint(Number(e.slice(1)))
          : (named[e] ?? all),
    ),
  );
}

function ok(r: { status: number; text: string }, what: string, also: number[] = []): void {
  if ((r.status < 200 || r.status >= 300) && !also.includes(r.status))
    throw new Error(`S3 server: ${what}: ${r.status} ${r.text.slice(0, 300)}`);
}

/** Makes (or completes, when the same run made part of it) a unit: its account and its buckets. */
export async function makeS3Unit(
  root: S3Admin,
  unit: string,
  secret: string,
  buckets: string[],
): Promise<void> {
  if (!/^ccci-([0-9a-f]{12}|none)-[a-z0-9]{1,4}-[0-9a-f]{6}-[a-z][a-z0-9_]{0,15}$/.test(unit))
    throw new Error(`not a unit name: ${unit}`);
  const account = `<Account><Access>${unit}</Access><Secret>${secret}</Secret><Role>user</Role></Account>`;
  const made = await s3Request(root.admin, "PATCH", "/create-user", { body: account });
  if (made.status === 409 || /already exists/i.test(made.text)) {
    const again = await s3Request(root.admin, "PATCH", "/update-user", {
      query: { access: unit },
      body: `<MutableProps><Secret>${secret}</Secret></MutableProps>`,
    });
    ok(again, `updating account ${unit}`);
  } else ok(made, `creating account ${unit}`);
  for (const b of buckets) {
    const r = await s3Request(root.admin, "PATCH", `/${b}/create`, { headers: { "x-vgw-owner": unit } });
    if (r.status === 409 || /BucketAlreadyOwnedByYou|BucketAlreadyExists/.test(r.text)) {
      ok(
        await s3Request(root.admin, "PATCH", "/change-bucket-owner/", { query: { bucket: b, owner: unit } }),
        `owner of ${b}`,
      );
    } else ok(r, `creating bucket ${b}`);
  }
}

/**
 * Every object of a bucket deleted, then the bucket; gone already is done. A round that removes
 * nothing (a key the server lists but will not delete) stops with the key named, rather than loop.
 */
async function dropBucket(api: S3Login, bucket: string): Promise<void> {
  let before = "";
  for (;;) {
    const list = await s3Request(api, "GET", `/${bucket}`, {
      query: { "list-type": "2", "max-keys": "1000" },
    });
    if (list.status === 404) return;
    ok(list, `listing ${bucket}`);
    const keys = xmlValues(list.text, "Key");
    if (keys.length === 0) break;
    if (keys.join("\n") === before)
      throw new Error(`S3 server: ${bucket}: ${JSON.stringify(keys[0])} cannot be deleted`);
    before = keys.join("\n");
    for (const k of keys)
      ok(await s3Request(api, "DELETE", `/${bucket}/${k}`), `deleting ${bucket}/${k}`, [404]);
  }
  ok(await s3Request(api, "DELETE", `/${bucket}`), `deleting bucket ${bucket}`, [404]);
}

/** Removes a unit: its buckets (emptied) and its account. */
export async function dropS3Unit(root: S3Admin, unit: string, buckets: string[]): Promise<void> {
  for (const b of buckets) await dropBucket(root.api, b);
  const r = await s3Request(root.admin, "PATCH", "/delete-user", { query: { access: unit } });
  ok(r, `deleting account ${unit}`, [404]);
}

/** Every unit account on the server, with the buckets it owns (audits). */
export async function listS3Units(root: S3Admin): Promise<{ unit: string; buckets: string[] }[]> {
  const users = await s3Request(root.admin, "PATCH", "/list-users");
  ok(users, "listing accounts");
  const buckets = await s3Request(root.admin, "PATCH", "/list-buckets");
  ok(buckets, "listing buckets");
  const names = xmlValues(buckets.text, "Name");
  const owners = xmlValues(buckets.text, "Owner");
  return xmlValues(users.text, "Access")
    .filter((a) => S3_UNIT_PATTERN.test(a))
    .map((unit) => ({ unit, buckets: names.filter((_, i) => owners[i] === unit) }));
}

/** What a bucket holds, in bytes (its objects' sizes, listed 1000 at a time, at most `maxPages`). */
export async function bucketBytes(api: S3Login, bucket: string, maxPages = 100): Promise<number> {
  let total = 0;
  let token: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const list = await s3Request(api, "GET", `/${bucket}`, {
      query: { "list-type": "2", "max-keys": "1000", ...(token ? { "continuation-token": token } : {}) },
    });
    if (list.status === 404) return total;
    ok(list, `listing ${bucket}`);
    for (const size of xmlValues(list.text, "Size")) total += Number(size) || 0;
    token = xmlValues(list.text, "NextContinuationToken")[0];
    if (!token) break;
  }
  return total;
}
