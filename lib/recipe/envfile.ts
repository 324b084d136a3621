/**
 * Reads a recipe's `.env.sample` the way Co-op Cloud's abra does: lines in order, each value
 * expanded against what is defined so far (so `COMPOSE_FILE="$COMPOSE_FILE:compose.x.yml"` appends),
 * commented-out lines ignored, and the hints abra reads from trailing comments (`# length=32`,
 * `#generate=false`, `# charset=…`) kept per variable. The `dotenv` package drops comments and does
 * not expand in order, hence this small parser.
 */
import { interpolate } from "./interpolate";

export interface EnvHints {
  length?: number;
  generate?: boolean;
  charset?: string;
}

export interface EnvFile {
  values: Record<string, string>;
  hints: Record<string, EnvHints>;
  problems: { line: number; message: string }[];
  warnings: string[];
}

/**
 * @param text the file's content
 * @param forced values that win over the file's own (the run's DOMAIN, STACK_NAME, operator overrides);
 *   the file's lines still see them when expanding.
 */
export function parseEnvFile(text: string, forced: Readonly<Record<string, string>> = {}): EnvFile {
  const values: Record<string, string> = { ...forced };
  const hints: Record<string, EnvHints> = {};
  const problems: EnvFile["problems"] = [];
  const warnings: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) {
      problems.push({ line: lineNo, message: `not a KEY=value line: ${JSON.stringify(raw)}` });
      return;
    }
    const [, key, rest] = m;
    const parsed = parseValue(rest);
    if ("error" in parsed) {
      problems.push({ line: lineNo, message: `${key}: ${parsed.error}` });
      return;
    }
    const h = parseHints(parsed.comment);
    if (h) hints[key] = h;
    if (key in forced) return;
    if (parsed.literal) {
      values[key] = parsed.value;
      return;
    }
    const r = interpolate(parsed.value, values);
    for (const e of r.errors) problems.push({ line: lineNo, message: `${key}: ${e}` });
    values[key] = r.value;
  });
  return { values, hints, problems, warnings };
}

function parseValue(rest: string): { value: string; literal: boolean; comment: string } | { error: string } {
  const q = rest[0];
  if (q === '"' || q === "'") {
    let value = "";
    let i = 1;
    for (; i < rest.length; i++) {
      const c = rest[i];
      if (c === q) break;
      if (q === '"' && c === "\\" && i + 1 < rest.length) {
        const n = rest[++i];
        value += n === "n" ? "\n" : n === "t" ? "\t" : n;
        continue;
      }
      value += c;
    }
    if (i >= rest.length) return { error: `unterminated ${q}-quoted value` };
    const after = rest.slice(i + 1).trim();
    if (after !== "" && !after.startsWith("#"))
      return { error: `unexpected text after quoted value: ${after}` };
    return { value, literal: q === "'", comment: after.replace(/^#/, "") };
  }
  // Unquoted: a comment starts at a "#" preceded by white space.
  const m = /^(.*?)(?:\s+#(.*))?$/.exec(rest) as RegExpExecArray;
  return { value: m[1].trim(), literal: false, comment: m[2] ?? "" };
}

function parseHints(comment: string): EnvHints | undefined {
  if (!comment) return undefined;
  const h: EnvHints = {};
  const length = /\blength=(\d+)/.exec(comment);
  if (length) h.length = Number(length[1]);
  const generate = /\bgenerate=(true|false)/.exec(comment);
  if (generate) h.generate = generate[1] === "true";
  const charset = /\bcharset=([^\s]+)/.exec(comment);
  if (charset) h.charset = charset[1];
  return Object.keys(h).length > 0 ? h : undefined;
}
