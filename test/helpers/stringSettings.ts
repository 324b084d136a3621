/**
 * Every place of a settings schema that takes free text (a string, or a union with a string in it),
 * and the values that JSON or YAML would read as something other than text: what the config codec's
 * round-trip tests (unit and end-to-end) put at each of those places.
 */
import type { z } from "zod";

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
}
const defOf = (t: z.ZodType) => (t as unknown as { def: Def }).def;

/** A path into a setting: keys of objects and records (a record's key is "K"), 0 for a list's item. */
export type SettingPath = (string | number)[];

/** Every free-text place of `schema` (enums and literals are not free text; union branches of objects neither). */
export function stringSettings(schema: z.ZodType, at: SettingPath = []): SettingPath[] {
  let t = schema;
  for (let d = defOf(t); ; d = defOf(t)) {
    if (["default", "prefault", "optional", "nullable", "readonly"].includes(d.type) && d.innerType)
      t = d.innerType;
    else if (d.type === "pipe" && d.in) t = d.in;
    else break;
  }
  const d = defOf(t);
  if (d.type === "string") return [at];
  if (d.type === "union" && (d.options ?? []).some((o) => defOf(o).type === "string")) return [at];
  if (d.type === "object" && d.shape)
    return Object.entries(d.shape).flatMap(([k, v]) => stringSettings(v, [...at, k]));
  if (d.type === "record" && d.valueType) return stringSettings(d.valueType, [...at, "K"]);
  if (d.type === "array" && d.element) return stringSettings(d.element, [...at, 0]);
  return [];
}

/** `value` at `path`, in a fresh tree (lists of one item, records of one key). */
export function treeWith(path: SettingPath, value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  return typeof head === "number" ? [treeWith(rest, value)] : { [head]: treeWith(rest, value) };
}

/** The value at `path` of a decoded tree (undefined where it is missing). */
export function valueAt(tree: unknown, path: SettingPath): unknown {
  let v = tree;
  for (const k of path)
    v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** Texts that JSON or YAML (1.1 or 1.2) would read as a number, boolean, null or something else. */
export const AWKWARD_STRINGS = [
  "1e5",
  "76290e602282",
  "605544239232",
  "2048",
  "0x1f",
  "0o17",
  "007",
  "-0",
  "+1",
  ".5",
  "1_000",
  "Infinity",
  "-Infinity",
  "NaN",
  ".inf",
  "-.inf",
  ".nan",
  "true",
  "false",
  "True",
  "yes",
  "no",
  "on",
  "off",
  "null",
  "Null",
  "~",
  "",
  " ",
  "  padded  ",
  "\t",
  "{}",
  "[]",
  '{"a":1}',
  "[1,2]",
  '"quoted"',
  "'single'",
  "- item",
  "key: value",
  "# not a comment",
  "&anchor",
  "*alias",
  "!!str tagged",
  "2026-12-06",
  "12:30:00",
  "a\nb",
  // What a YAML reader descended from libyaml (the Pulumi CLI's) folds or refuses when written raw.
  "nel\u0085ls\u2028ps\u2029",
  "del\u007f",
  "\u0001ctl",
  "é 😀 ümlaut",
];
