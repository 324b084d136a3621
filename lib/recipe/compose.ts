/**
 * Reads the compose files a recipe's COMPOSE_FILE names, with YAML anchors and merge keys, interpolates
 * them, and merges overlays onto the base the way `docker stack deploy -c a -c b` does.
 */
import { readFileSync, realpathSync, existsSync } from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { interpolate } from "./interpolate";
import type { Problem } from "../errors";

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface ComposeRead {
  doc: JsonObject;
  files: string[];
  problems: Problem[];
  warnings: string[];
}

/** Resolves `rel` inside `root`, refusing paths that leave it (also through symlinks). */
export function insideRoot(root: string, rel: string): string | undefined {
  const abs = path.resolve(root, rel);
  const realRoot = realpathSync(root);
  const real = existsSync(abs) ? realpathSync(abs) : abs;
  const r = path.relative(realRoot, real);
  return r === "" || (!r.startsWith("..") && !path.isAbsolute(r)) ? real : undefined;
}

export function readCompose(
  dir: string,
  composeFile: string,
  vars: Readonly<Record<string, string>>,
): ComposeRead {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const files = composeFile
    .split(":")
    .map((f) => f.trim())
    .filter((f) => f !== "");
  if (files.length === 0) problems.push({ path: "COMPOSE_FILE", message: "names no compose file" });
  let merged: JsonObject = {};
  const unset = new Set<string>();
  for (const file of files) {
    const abs = insideRoot(dir, file);
    if (!abs) {
      problems.push({ path: `COMPOSE_FILE`, message: `${file} is outside the recipe folder` });
      continue;
    }
    if (!existsSync(abs)) {
      problems.push({ path: `COMPOSE_FILE`, message: `${file} does not exist` });
      continue;
    }
    const doc = parseDocument(readFileSync(abs, "utf8"), {
      merge: true,
      prettyErrors: true,
      uniqueKeys: true,
    });
    if (doc.errors.length > 0) {
      for (const e of doc.errors) problems.push({ path: file, message: `YAML: ${e.message.split("\n")[0]}` });
      continue;
    }
    for (const w of doc.warnings) warnings.push(`${file}: YAML: ${w.message.split("\n")[0]}`);
    const js = doc.toJS({ maxAliasCount: 1000 }) as unknown;
    if (js === null || typeof js !== "object" || Array.isArray(js)) {
      problems.push({ path: file, message: "is not a YAML mapping" });
      continue;
    }
    const expanded = expandTree(js as Json, vars, file, problems, unset) as JsonObject;
    merged = mergeCompose(merged, expanded);
  }
  for (const name of unset) warnings.push(`variable ${name} is not set; it was replaced by an empty string`);
  return { doc: merged, files, problems, warnings };
}

function expandTree(
  node: Json,
  vars: Readonly<Record<string, string>>,
  where: string,
  problems: Problem[],
  unset: Set<string>,
): Json {
  if (typeof node === "string") {
    const r = interpolate(node, vars);
    for (const e of r.errors) problems.push({ path: where, message: e });
    for (const u of r.unset) unset.add(u);
    return r.value;
  }
  if (Array.isArray(node)) return node.map((n, i) => expandTree(n, vars, `${where}[${i}]`, problems, unset));
  if (node && typeof node === "object") {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(node)) {
      // Extension fields (x-…) hold anchors only; their content was already merged where used.
      const key = k.startsWith("x-") ? k : expandTree(k, vars, where, problems, unset);
      out[key as string] = k.startsWith("x-")
        ? v
        : expandTree(v, vars, `${where}.${key as string}`, problems, unset);
    }
    return out;
  }
  return node;
}

/** Lists that Compose concatenates across files rather than replacing. */
const CONCATENATED = new Set([
  "ports",
  "expose",
  "external_links",
  "dns",
  "dns_search",
  "tmpfs",
  "extra_hosts",
]);
/** Lists whose items are keyed (by target or name); an overlay's item replaces the base's of that key. */
const KEYED_LISTS: Record<string, (item: Json) => string> = {
  volumes: (v) => (typeof v === "string" ? (v.split(":")[1] ?? v) : String((v as JsonObject).target ?? "")),
  secrets: (v) => (typeof v === "string" ? v : String((v as JsonObject).source ?? "")),
  configs: (v) => (typeof v === "string" ? v : String((v as JsonObject).source ?? "")),
};

/** Normalises `KEY=VALUE` lists (environment, labels) to mappings so overlays merge by key. */
export function listToMap(value: Json | undefined): Record<string, string | null> | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) {
    const out: Record<string, string | null> = {};
    for (const item of value) {
      const s = String(item);
      const eq = s.indexOf("=");
      if (eq < 0) out[s] = null;
      else out[s.slice(0, eq)] = s.slice(eq + 1);
    }
    return out;
  }
  if (typeof value === "object") {
    const out: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(value)) out[k] = v === null ? null : String(v);
    return out;
  }
  return undefined;
}

function mergeService(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (k === "environment" || k === "labels") {
      out[k] = { ...(listToMap(b) ?? {}), ...(listToMap(v) ?? {}) };
    } else if (k === "deploy" && isObject(b) && isObject(v)) {
      const d = deepMerge(b, v) as JsonObject;
      if (b.labels !== undefined || v.labels !== undefined) {
        d.labels = { ...(listToMap(b.labels) ?? {}), ...(listToMap(v.labels) ?? {}) };
      }
      out[k] = d;
    } else if (CONCATENATED.has(k) && Array.isArray(b) && Array.isArray(v)) {
      out[k] = [...b, ...v.filter((x) => !b.some((y) => JSON.stringify(y) === JSON.stringify(x)))];
    } else if (k in KEYED_LISTS && Array.isArray(b) && Array.isArray(v)) {
      const key = KEYED_LISTS[k];
      const overKeys = new Set(v.map(key));
      out[k] = [...b.filter((x) => !overKeys.has(key(x))), ...v];
    } else if (k === "networks" && b !== undefined && v !== undefined) {
      out[k] = { ...networksToMap(b), ...networksToMap(v) };
    } else if (isObject(b) && isObject(v) && k !== "healthcheck") {
      out[k] = deepMerge(b, v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

export function networksToMap(value: Json): JsonObject {
  if (Array.isArray(value)) return Object.fromEntries(value.map((n) => [String(n), null]));
  return isObject(value) ? value : {};
}

export function mergeCompose(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (k === "services" && isObject(b) && isObject(v)) {
      const services: JsonObject = { ...b };
      for (const [name, svc] of Object.entries(v)) {
        services[name] =
          isObject(services[name]) && isObject(svc) ? mergeService(services[name] as JsonObject, svc) : svc;
      }
      out[k] = services;
    } else if (isObject(b) && isObject(v)) {
      out[k] = deepMerge(b, v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

function deepMerge(a: JsonObject, b: JsonObject): JsonObject {
  const out: JsonObject = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const x = out[k];
    out[k] = isObject(x) && isObject(v) ? deepMerge(x, v) : v;
  }
  return out;
}

export function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
