/**
 * `.cc-ci/deps.yml`: what a recipe's CI needs besides the recipe itself, by kind, and how each
 * dependency's values reach the recipe. Read through the recipe's resolver (bounded like every other
 * file of the recipe), parsed by the `yaml` library, validated by zod; every problem names the file
 * and the line it is on.
 *
 *   db:                       # the dependency's name (its values are CI_DEP_DB_*)
 *     kind: postgres          # oidc | postgres | s3 | smtp | recipe
 *     extensions: [pgcrypto]  # what the unit needs (per kind)
 *     env:                    # recipe env var ← one of the kind's values
 *       DB_HOST: host
 *       DB_NAME: database
 *     secrets:                # recipe secret (its compose key) ← one of the kind's values
 *       db_password: password
 */
import { isMap, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { z } from "zod";
import type { Problem } from "../errors";
import { pathString } from "../errors";
import type { RecipeFiles } from "../recipe/files";
import { KINDS, kindFields, type DepKind } from "./kinds";

export const DEPS_FILE = ".cc-ci/deps.yml";
/** Largest deps file read: a list of needs, not a payload. */
export const MAX_DEPS_BYTES = 64 * 1024;
/** Most dependencies one recipe may declare. */
export const MAX_DEPS = 16;
/** A dependency's name: it becomes part of variable, host and database names. */
export const DEP_NAME = /^[a-z][a-z0-9_]{0,15}$/;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const SECRET_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
const field = z.string().min(1).max(64);

// Keys are checked in semanticProblems, where a message can say what is wrong with one.
const Common = {
  env: z.record(z.string(), field).default({}),
  secrets: z.record(z.string(), field).default({}),
};

const Oidc = z.strictObject({ kind: z.literal("oidc"), ...Common });
const Postgres = z.strictObject({
  kind: z.literal("postgres"),
  /** Trusted extensions made in the unit's database before the recipe starts. */
  extensions: z
    .array(z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, "is not an extension name"))
    .max(16)
    .default([]),
  ...Common,
});
const S3 = z.strictObject({
  kind: z.literal("s3"),
  /** Buckets made before the recipe starts (the first is `bucket`). */
  buckets: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$/, "is not a bucket name (3-32 of a-z 0-9 -)"))
    .min(1)
    .max(8)
    .default(["data"]),
  ...Common,
});
const Smtp = z.strictObject({ kind: z.literal("smtp"), ...Common });
const RecipeDep = z.strictObject({
  kind: z.literal("recipe"),
  /** The recipe's name in the operator's catalogue. */
  recipe: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9_-]{0,63}$/,
      "is not the name of a recipe folder of the catalogue (a-z, 0-9, _ and -, 64 at most; never a path)",
    ),
  ...Common,
});

export const DepEntry = z.discriminatedUnion("kind", [Oidc, Postgres, S3, Smtp, RecipeDep]);
export type DepEntry = z.output<typeof DepEntry>;

export const DepsFile = z
  // Names are checked with the kinds' values (semanticProblems), where the message can say what a name is.
  .record(z.string(), DepEntry)
  .refine((r) => Object.keys(r).length <= MAX_DEPS, `at most ${MAX_DEPS} dependencies`);

/** One declared dependency, checked. */
export type DepSpec = DepEntry & { name: string };

/** The kinds' values a dependency names must exist; one OIDC provider per run. */
function semanticProblems(deps: Record<string, DepEntry>): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  for (const name of Object.keys(deps))
    if (!DEP_NAME.test(name))
      out.push({ path: [name], message: "a dependency's name: a-z, 0-9 and _, at most 16, a letter first" });
  for (const [name, d] of Object.entries(deps)) {
    const fields = kindFields(d.kind);
    for (const k of Object.keys(d.env))
      if (!ENV_NAME.test(k))
        out.push({
          path: [name, "env", k],
          message: "is not an environment variable name (letters, digits and _, not a digit first)",
        });
    for (const k of Object.keys(d.secrets))
      if (!SECRET_KEY.test(k))
        out.push({ path: [name, "secrets", k], message: "is not a compose secret key" });
    for (const part of ["env", "secrets"] as const)
      for (const [k, f] of Object.entries(d[part]))
        if (!(f in fields))
          out.push({
            path: [name, part, k],
            message: `${d.kind} gives no value "${f}" (it gives: ${Object.keys(fields).join(", ")})`,
          });
  }
  const oidc = Object.entries(deps).filter(([, d]) => d.kind === "oidc");
  if (oidc.length > 1)
    out.push({ path: [oidc[1][0], "kind"], message: "a run has one OIDC provider: declare oidc once" });
  return out;
}

/** The line a path of the document is written on (the key's line for a map entry). */
function lineOf(
  doc: ReturnType<typeof parseDocument>,
  lines: LineCounter,
  path: (string | number)[],
): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String((p.key as { value?: unknown })?.value) === String(key));
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof key === "number") {
      node = node.items[key];
      offset = (node as Node | undefined)?.range?.[0] ?? offset;
    } else break;
  }
  return lines.linePos(offset).line;
}

/** The recipe's declared dependencies, or none when it has no deps file. */
export function readDeps(files: RecipeFiles): { deps: DepSpec[]; problems: Problem[] } {
  if (!files.present(DEPS_FILE)) return { deps: [], problems: [] };
  const problem = (message: string, line?: number): Problem => ({
    path: "",
    file: DEPS_FILE,
    message,
    ...(line ? { line } : {}),
  });
  const r = files.read(DEPS_FILE, MAX_DEPS_BYTES);
  if (!r.ok) return { deps: [], problems: [problem(r.message)] };
  const lines = new LineCounter();
  const doc = parseDocument(r.text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0)
    // The parser's own words, without the excerpt of the file it appends.
    return {
      deps: [],
      problems: doc.errors.map((e) => problem(e.message.split("\n")[0], lines.linePos(e.pos[0]).line)),
    };
  let tree: unknown;
  try {
    tree = doc.toJS({ maxAliasCount: 64 }) ?? {};
  } catch (e) {
    return { deps: [], problems: [problem((e as Error).message.split("\n")[0])] };
  }
  const parsed = DepsFile.safeParse(tree);
  const at = (path: (string | number)[], message: string): Problem => ({
    ...problem(message, lineOf(doc, lines, path)),
    path: pathString(path),
  });
  if (!parsed.success)
    return {
      deps: [],
      problems: parsed.error.issues.map((i) => at(i.path as (string | number)[], i.message)),
    };
  const semantic = semanticProblems(parsed.data);
  if (semantic.length > 0) return { deps: [], problems: semantic.map((p) => at(p.path, p.message)) };
  return {
    deps: Object.entries(parsed.data).map(([name, d]) => ({ ...d, name })),
    problems: [],
  };
}

export { KINDS, type DepKind };
