/**
 * Settings decoded by the schema's type of each key, never by guessing from the text.
 *
 * Pulumi hands a program every top-level config value as a string (objects as JSON), and YAML
 * reads `007`, `1e5`, `76290e602282`, `true`, `~` or `.inf` as something other than the text an
 * operator or cc-ci wrote. Guessing (JSON.parse wherever it parses) turned an owner id of 12 hex
 * digits that happened to be all digits into Infinity. Here a value is typed by what the schema wants
 * at that place: where it takes a string, the exact text; a number, boolean or null only where the
 * schema takes one; JSON only where it wants an object or a list.
 */
import { isAlias, isMap, isScalar, isSeq, parseDocument, Scalar, type Document } from "yaml";
import { z } from "zod";

/** Text whose type is not yet known: a Pulumi config value, or a plain (unquoted) YAML scalar. */
export class Untyped {
  constructor(readonly text: string) {}
}

type Kind = "string" | "number" | "boolean" | "null" | "object" | "array" | "any";

// Internal: zod 4 keeps each schema's definition in `_zod.def`; only the fields read here are typed.
interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  values?: unknown[];
  entries?: Record<string, unknown>;
  getter?: () => z.ZodType;
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "readonly", "catch", "nonoptional"]);

/**
 * The schema that decides how a value is read: wrappers unwrapped, a pipe's input side; `nullable`
 * is set when a wrapper on the way takes null.
 */
function core(s: z.ZodType): { schema: z.ZodType; nullable: boolean } {
  let nullable = false;
  for (;;) {
    const d = defOf(s);
    if (d.type === "nullable") nullable = true;
    if (WRAPPERS.has(d.type) && d.innerType) s = d.innerType;
    else if (d.type === "pipe" && d.in) s = d.in;
    else if (d.type === "lazy" && d.getter) s = d.getter();
    else return { schema: s, nullable };
  }
}

/** The kind of value each zod type takes (literals, enums and unions are read from their values). */
const KIND_OF: Record<string, Kind> = {
  string: "string",
  template_literal: "string",
  number: "number",
  nan: "number",
  boolean: "boolean",
  null: "null",
  object: "object",
  record: "object",
  array: "array",
  tuple: "array",
};

/** What kinds of value a schema accepts at the top (union options and wrappers included). */
function kinds(schema: z.ZodType, out = new Set<Kind>()): Set<Kind> {
  const { schema: s, nullable } = core(schema);
  if (nullable) out.add("null");
  const d = defOf(s);
  if (d.type === "union") for (const o of d.options ?? []) kinds(o, out);
  else if (d.type === "literal" || d.type === "enum")
    for (const v of d.values ?? Object.values(d.entries ?? {}))
      out.add(v === null ? "null" : (typeof v as Kind));
  else out.add(KIND_OF[d.type] ?? "any");
  return out;
}

// YAML 1.2's core schema, which Pulumi's own reader and ours follow for plain scalars.
const YAML_NULL = /^(?:~|null|Null|NULL|)$/;
const YAML_BOOL: Record<string, boolean> = {
  true: true,
  True: true,
  TRUE: true,
  false: false,
  False: false,
  FALSE: false,
};
const DECIMAL = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;

/** A number as YAML 1.2's core schema (a superset of JSON's) reads the text, if it is one. */
function numberOf(text: string): number | undefined {
  const t = text.trim();
  let n: number | undefined;
  if (DECIMAL.test(t)) n = Number(t);
  else if (/^0o[0-7]+$/.test(t)) n = parseInt(t.slice(2), 8);
  else if (/^0x[0-9a-fA-F]+$/.test(t)) n = parseInt(t.slice(2), 16);
  // Infinity is no setting anyone means (and JSON has none): left as text, so the schema names it.
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}

/** Untyped text read as the schema wants it; text the schema cannot take stays text (zod names it). */
function typeText(s: z.ZodType, text: string): unknown {
  const k = kinds(s);
  if (k.has("string") || k.has("any")) return text;
  // Only where the schema takes null: elsewhere an empty or `~` value is named, never a default.
  if (k.has("null") && YAML_NULL.test(text.trim())) return null;
  if (k.has("number")) {
    const n = numberOf(text);
    if (n !== undefined) return n;
  }
  if (k.has("boolean") && text.trim() in YAML_BOOL) return YAML_BOOL[text.trim()];
  if (k.has("object") || k.has("array")) {
    try {
      // Pulumi's form of an object or list setting: JSON, whose strings are strings.
      return decodeBySchema(s, JSON.parse(text) as unknown);
    } catch {
      return text;
    }
  }
  return text;
}

/**
 * `value` (a tree of JSON values, where `Untyped` marks text not typed yet) decoded as `schema` wants
 * each place of it. Strings stay strings where the schema takes strings; a typed number or boolean
 * where only a string fits (an object setting Pulumi's own reader typed) becomes its text.
 */
export function decodeBySchema(schema: z.ZodType, value: unknown): unknown {
  if (value instanceof Untyped) return typeText(schema, value.text);
  const k = kinds(schema);
  if (typeof value === "string") return k.has("string") || k.has("any") ? value : typeText(schema, value);
  if (typeof value === "number" || typeof value === "boolean")
    return !k.has(typeof value as Kind) && k.has("string") ? String(value) : value;
  if (value === null || typeof value !== "object") return value;
  const d = defOf(core(schema).schema);
  if (d.type === "union") {
    const options = d.options ?? [];
    for (const o of options) {
      const decoded = decodeBySchema(o, value);
      if (o.safeParse(decoded).success) return decoded;
    }
    const fits = options.find((o) => kinds(o).has(Array.isArray(value) ? "array" : "object"));
    return fits ? decodeBySchema(fits, value) : value;
  }
  if (Array.isArray(value)) {
    const element = d.type === "array" ? d.element : undefined;
    return element ? value.map((v) => decodeBySchema(element, v)) : value.map(plain);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  for (const [key, v] of entries) {
    const at = d.type === "object" ? d.shape?.[key] : d.type === "record" ? d.valueType : undefined;
    const decoded = at ? decodeBySchema(at, v) : plain(v);
    if (decoded !== undefined) out[key] = decoded;
  }
  return out;
}

/** A tree with its untyped text left as text (for places no schema describes: zod then names them). */
function plain(value: unknown): unknown {
  if (value instanceof Untyped) return value.text;
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/**
 * A YAML document as a tree for decodeBySchema: quoted and block scalars are strings, plain scalars
 * `Untyped` (their exact text, `007` and `1e5` included), anchors followed. Throws on YAML errors.
 */
export function yamlTree(text: string): unknown {
  // The failsafe schema keeps every scalar's text as written; its style says whether it was quoted.
  const doc = parseDocument(text, { schema: "failsafe", uniqueKeys: true });
  if (doc.errors.length > 0) throw doc.errors[0];
  return nodeTree(doc, doc.contents, 0);
}

function nodeTree(doc: Document, node: unknown, depth: number): unknown {
  if (depth > 64) throw new Error("settings nested deeper than 64 levels");
  if (isAlias(node)) return nodeTree(doc, node.resolve(doc), depth + 1);
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      out[key] = nodeTree(doc, pair.value, depth + 1);
    }
    return out;
  }
  if (isSeq(node)) return node.items.map((item) => nodeTree(doc, item, depth + 1));
  if (isScalar(node)) {
    const text = String(node.value ?? "");
    return node.type === Scalar.PLAIN || node.type === undefined ? new Untyped(text) : text;
  }
  return node === null || node === undefined ? new Untyped("") : node;
}

/**
 * `text` as a YAML double-quoted scalar that every YAML reader takes back as exactly this string:
 * printable ASCII as is, everything else escaped by code point (`\x`, `\u`, `\U`), `"` and `\`
 * escaped. Not the `yaml` library's double-quoted style: it writes NEL, LS, PS and DEL raw, which
 * readers descended from libyaml (Go's yaml.v3, the Pulumi CLI's) fold into spaces or refuse. A lone
 * surrogate, which UTF-8 cannot hold, becomes U+FFFD, as Node writes it to any file or argument.
 */
export function yamlQuoted(text: string): string {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (cp >= 0x20 && cp <= 0x7e) out += ch;
    else if (cp <= 0xff) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += "\\ufffd";
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return `${out}"`;
}

/**
 * A stack settings file (Pulumi.<stack>.yaml) of string values and maps of them, every key and
 * string double-quoted by yamlQuoted: nothing in it reads as a number, a boolean, a date or null.
 */
export function settingsYaml(settings: Record<string, unknown>, indent = ""): string {
  let out = "";
  for (const [k, v] of Object.entries(settings)) {
    if (v === undefined) continue;
    if (typeof v === "string") out += `${indent}${yamlQuoted(k)}: ${yamlQuoted(v)}\n`;
    else if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const inner = settingsYaml(v as Record<string, unknown>, `${indent}  `);
      out += inner === "" ? `${indent}${yamlQuoted(k)}: {}\n` : `${indent}${yamlQuoted(k)}:\n${inner}`;
    } else out += `${indent}${yamlQuoted(k)}: ${JSON.stringify(v)}\n`;
  }
  return out;
}
