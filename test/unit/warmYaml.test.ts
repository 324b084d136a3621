/**
 * Pulumi.warm.yaml is the operator's documentation of the warm settings: every key in it (set, or
 * shown commented out) is a setting of the schema, and the default its comment states is the
 * schema's own (each setting's zod description ends with "Default: …").
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { z } from "zod";
import { WarmConfig } from "../../lib/config";

const FILE = path.join(__dirname, "..", "..", "Pulumi.warm.yaml");

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
}
const defOf = (t: z.ZodType) => (t as unknown as { def: Def }).def;

/** Each setting's path (`traefik.httpPort`) and the description closest to its key. */
function settings(schema: z.ZodType, prefix = "", out = new Map<string, string>()): Map<string, string> {
  let t = schema;
  let description = t.description;
  for (
    let d = defOf(t);
    ["default", "prefault", "optional", "nullable", "pipe"].includes(d.type);
    d = defOf(t)
  ) {
    t = (d.innerType ?? d.in) as z.ZodType;
    description ??= t.description;
  }
  if (prefix) out.set(prefix, description ?? "");
  const d = defOf(t);
  if (d.type === "object" && d.shape)
    for (const [k, v] of Object.entries(d.shape)) settings(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

interface YamlKey {
  path: string;
  line: number;
  /** The comment block right above the key, or above the sibling it shares it with. */
  comment: string;
  /** Documented by its group's comment (e.g. `resources:` then `memoryLimit:`). */
  inherited: boolean;
}

/** The keys under `config:`, with their nesting and comments (set, or commented out). */
function yamlKeys(text: string, known: ReadonlySet<string>): YamlKey[] {
  const lines = text.split("\n");
  const keys: YamlKey[] = [];
  const stack: { indent: number; key: string; comment: string }[] = [];
  /** The comment of the last key at each indent (keys right below it share it). */
  const lastAt = new Map<number, string>();
  let block: string[] = [];
  let inConfig = false;
  lines.forEach((raw, i) => {
    if (/^config:\s*$/.test(raw)) return void (inConfig = true);
    if (!inConfig) return;
    const set = /^(\s+)(?:cc-ci:)?([A-Za-z][A-Za-z0-9]*):/.exec(raw);
    const commented = /^(\s+)#\s?([A-Za-z][A-Za-z0-9]*): \S/.exec(raw);
    const m = set ?? commented;
    if (m) {
      const indent = m[1].length;
      while (stack.length > 0 && stack[stack.length - 1].indent >= indent) stack.pop();
      const keyPath = [...stack.map((s) => s.key), m[2]].join(".");
      if (set || known.has(keyPath)) {
        const own = block.join(" ");
        // No comment of its own: the one above its sibling (a shared comment), else its group's.
        const comment = own || (lastAt.get(indent) ?? "");
        const inherited = !own && !lastAt.has(indent);
        keys.push({ path: keyPath, line: i + 1, comment: inherited ? "" : comment, inherited });
        lastAt.set(indent, comment);
        for (const k of [...lastAt.keys()]) if (k > indent) lastAt.delete(k);
        if (set) stack.push({ indent, key: m[2], comment });
        block = [];
        return;
      }
    }
    if (/^\s*#/.test(raw)) block.push(raw.replace(/^\s*#\s?/, ""));
    else block = [];
  });
  return keys;
}

/** "Default: 8180." → "8180"; "Defaults: 80 and 443." → ["80", "443"]. */
function stated(text: string): string | undefined {
  return /Defaults?: (.*?)\.?\s*$/.exec(text.replace(/\s+/g, " ").trim())?.[1];
}

describe("Pulumi.warm.yaml documents the warm settings as the schema defines them", () => {
  const schema = settings(WarmConfig);
  const keys = yamlKeys(readFileSync(FILE, "utf8"), new Set(schema.keys()));

  test("the file names the settings (and parses as the schema's own)", () => {
    expect(keys.length).toBeGreaterThan(30);
    // (tls is a union: its keys are checked by the config tests)
    const unknown = keys
      .filter((k) => !schema.has(k.path) && !k.path.startsWith("traefik.tls."))
      .map((k) => k.path);
    expect(unknown).toEqual([]);
  });

  test("every key the file shows states the schema's default", () => {
    const wrong: string[] = [];
    for (const k of keys) {
      const want = stated(schema.get(k.path) ?? "");
      if (want === undefined || k.inherited) continue; // a group's keys: the group states them
      const said = stated(k.comment);
      // A shared comment ("Defaults: 80 and 443.", "Defaults: keycloak, keycloak.") lists the
      // defaults of the keys below it in order; the schema's must be among them.
      const ok = said !== undefined && (said === want || said.split(/,? and |, /).includes(want));
      if (!ok)
        wrong.push(`line ${k.line}: ${k.path}: the file says ${said ?? "nothing"}, the schema ${want}`);
    }
    expect(wrong).toEqual([]);
  });

  test("every setting of the schema is in the file, set or shown commented out", () => {
    const shown = new Set(keys.map((k) => k.path));
    // Sub-keys of resource limits are described on their group's line (memoryLimit, …).
    const missing = [...schema.keys()].filter(
      (p) =>
        !shown.has(p) &&
        !/\.resources\.(memoryReservation|cpuLimit|memoryLimit)$/.test(p) &&
        !/\.tls\./.test(p),
    );
    expect(missing).toEqual([]);
  });
});
