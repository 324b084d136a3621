/**
 * Stage 2 of the loader: the compose files COMPOSE_FILE names, read through the recipe's file
 * resolver and handed to Docker's own loader (`ccci-compose load`: parse, interpolate, merge the
 * overlays, canonical long forms — exactly what `docker stack deploy -c a -c b` does), which returns
 * the config, or every problem with its file and line.
 */
import type { Problem } from "../errors";
import { ComposeConfig } from "./composeConfig";
import type { RecipeFiles } from "./files";
import { callHelper } from "./helpers";

interface HelperIssue {
  kind: string;
  message: string;
  file: string;
  line: number;
  path: string;
  detail?: string;
}

interface HelperLoad {
  config: unknown;
  warnings: HelperIssue[];
  problems: HelperIssue[];
  unset: string[];
  defaulted: string[];
  positions: Record<string, string>;
}

export interface ComposeLoad {
  /** The loaded config; undefined when Docker refuses the files. */
  config?: ComposeConfig;
  files: string[];
  problems: Problem[];
  warnings: string[];
  /** Where each path is written: "file:line". */
  positions: Record<string, string>;
}

/** A problem at `path`, placed at the file and line where that path (or its nearest parent) is written. */
export function at(positions: Record<string, string>, path: string, message: string): Problem {
  let p = path;
  while (p && positions[p] === undefined) p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "";
  const where = positions[p];
  if (!where) return { path, message };
  const i = where.lastIndexOf(":");
  return { path, message, file: where.slice(0, i), line: Number(where.slice(i + 1)) };
}

export function loadCompose(
  files: RecipeFiles,
  composeFile: string,
  env: Record<string, string>,
): ComposeLoad {
  const names = composeFile
    .split(":")
    .map((f) => f.trim())
    .filter((f) => f !== "");
  const out: ComposeLoad = { files: names, problems: [], warnings: [], positions: {} };
  if (names.length === 0) {
    out.problems.push({ path: "COMPOSE_FILE", message: "names no compose file", file: ".env.sample" });
    return out;
  }
  const contents: { name: string; content: string }[] = [];
  for (const name of names) {
    const r = files.read(name);
    if (r.ok) contents.push({ name, content: r.text });
    else out.problems.push({ path: "COMPOSE_FILE", message: r.message, file: ".env.sample" });
  }
  if (out.problems.length > 0) return out;

  const res = callHelper<HelperLoad>("compose", "load", { workingDir: files.root, files: contents, env });
  out.positions = res.positions;
  for (const p of res.problems)
    out.problems.push({
      // Docker's own messages often start with the path; say it once.
      path: p.message.startsWith(`${p.path}:`) || p.message.startsWith(`${p.path} `) ? "" : p.path,
      message: p.detail && !p.message.includes(p.detail) ? `${p.message} (${p.detail})` : p.message,
      ...(p.file ? { file: p.file } : {}),
      ...(p.line ? { line: p.line } : {}),
    });
  for (const w of res.warnings) out.warnings.push(`${w.file}:${w.line}: ${w.path}: ${w.message}`);
  for (const name of res.unset)
    out.warnings.push(`variable ${name} is not set; it was replaced by an empty string`);
  // Docker accepted the files; problems of our own (an env_file refused before Docker read it) do not
  // keep the later stages from finding theirs.
  if (res.config !== null && res.problems.every((p) => p.kind === "file")) {
    const parsed = ComposeConfig.safeParse(res.config);
    if (parsed.success) out.config = parsed.data;
    else
      out.problems.push({
        path: "",
        message: `the loaded config has an unexpected shape: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      });
  }
  return out;
}
