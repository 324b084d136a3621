/**
 * A recipe's environment as abra builds it: `.env.sample` read as abra reads an app's env file (its
 * parser is a fork of joho/godotenv: lines in order, `export ` stripped, `#` comments, single quotes
 * literal, double quotes with `\n` escapes, `$VAR`/`${VAR}` of upper-case names expanded from the
 * lines above — so `COMPOSE_FILE="$COMPOSE_FILE:compose.x.yml"` appends — and no `${VAR:-default}`),
 * the modifiers abra reads from trailing comments (`# length=32 charset=special generate=false`),
 * and `abra.sh`'s `export NAME=value` lines, which abra merges over the env file before it picks and
 * interpolates the compose files.
 *
 * The run's own values (DOMAIN, STACK_NAME, CI_*, operator overrides) stand in for the lines that set
 * the same names, as an operator's edited `.env` would, so later lines expand against them.
 */

export interface EnvHints {
  length?: number;
  generate?: boolean;
  /** abra's charset modifier as written (default, special, safespecial, default,special, …). */
  charset?: string;
}

export interface EnvFile {
  values: Record<string, string>;
  hints: Record<string, EnvHints>;
  problems: { line: number; message: string }[];
  warnings: string[];
}

/**
 * A character godotenv (abra's env-file parser) takes in a variable's name: `_`, `.`, or a letter or
 * a number — judged, as its loop does, byte by byte of the UTF-8 (each byte read as the code point of
 * that value: `é` is 0xC3 0xA9, `Ã` a letter and `©` not, so refused). No `-`.
 */
function nameChar(ch: string): boolean {
  return [...Buffer.from(ch, "utf8")].every(
    (b) => b === 0x5f || b === 0x2e || /[\p{L}\p{N}]/u.test(String.fromCharCode(b)),
  );
}

/**
 * @param text the file's content
 * @param forced values that stand in for the file's own (the run's DOMAIN, STACK_NAME, operator
 *   overrides); lines below still expand against them.
 * @param base values defined before the file (a later file's lines expand against and override them).
 */
export function parseEnvFile(
  text: string,
  forced: Readonly<Record<string, string>> = {},
  base: Readonly<Record<string, string>> = {},
): EnvFile {
  const values: Record<string, string> = { ...base, ...forced };
  const hints: Record<string, EnvHints> = {};
  const problems: EnvFile["problems"] = [];
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  let total = 0;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let rest = lines[i].replace(/^[\s]+/, "");
    if (rest === "" || rest.startsWith("#")) continue;
    const exp = /^export[ \t]+/.exec(rest);
    if (exp) rest = rest.slice(exp[0].length);
    // The name runs to the first `=` or `:` (godotenv also takes YAML-style `KEY: value`).
    let j = 0;
    while (j < rest.length && rest[j] !== "=" && rest[j] !== ":") {
      if (!nameChar(rest[j]) && !/[ \t]/.test(rest[j])) break;
      j++;
    }
    if (j >= rest.length || (rest[j] !== "=" && rest[j] !== ":")) {
      problems.push({
        line: lineNo,
        message: `not a KEY=value line (unexpected ${JSON.stringify(rest[j] ?? "end of line")})`,
      });
      continue;
    }
    const key = rest.slice(0, j).trim();
    let value = rest.slice(j + 1).replace(/^[ \t]+/, "");
    let comment: string;
    let expanded: string | undefined;
    const q = value[0];
    if (q === '"' || q === "'") {
      // A quoted value may span lines, up to the closing quote not escaped by an odd number of backslashes.
      let body = value.slice(1);
      let end = closingQuote(body, q);
      let extra = 0;
      while (end < 0 && i + extra + 1 < lines.length) {
        extra++;
        body += `\n${lines[i + extra]}`;
        end = closingQuote(body, q);
      }
      if (end < 0) {
        problems.push({ line: lineNo, message: `${key}: unterminated ${q}-quoted value` });
        i += extra;
        continue;
      }
      i += extra;
      comment = /#(.*)$/.exec(body.slice(end + 1))?.[1] ?? "";
      value = body.slice(0, end);
      if (q === '"') expanded = expand(unescape(value), values);
      else expanded = value;
    } else {
      // Unquoted: a comment starts at a "#" after white space; the value is trimmed and expanded.
      const m = /^(.*?)(?:[ \t]#(.*))?$/.exec(value) as RegExpExecArray;
      comment = m[2] ?? "";
      expanded = expand(m[1].trim(), values);
    }
    if (expanded === undefined) {
      problems.push({
        line: lineNo,
        message: `${key}: expands to more than ${MAX_ENV_VALUE_BYTES} bytes, the limit of one value`,
      });
      continue;
    }
    value = expanded;
    total += value.length;
    if (total > MAX_ENV_TOTAL_BYTES) {
      problems.push({
        line: lineNo,
        message: `${key}: the file's values hold more than ${MAX_ENV_TOTAL_BYTES} bytes together, the limit of an env`,
      });
      break;
    }
    const h = parseHints(comment);
    if (h) hints[key] = h;
    if (key in forced) continue;
    values[key] = value;
  }
  return { values, hints, problems, warnings: [] };
}

function closingQuote(body: string, q: string): number {
  for (let k = 0; k < body.length; k++) {
    if (body[k] !== q) continue;
    let backslashes = 0;
    for (let b = k - 1; b >= 0 && body[b] === "\\"; b--) backslashes++;
    if (backslashes % 2 === 0) return k;
  }
  return -1;
}

/** godotenv's escapes in double quotes: \n and \r become line breaks; `\x` becomes x, except `\$`. */
function unescape(s: string): string {
  return s.replace(/\\(.)/g, (m, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : c === "$" ? m : c));
}

/** Most bytes one env value may expand to (a few hundred bytes that double at every line stop here). */
export const MAX_ENV_VALUE_BYTES = 64 * 1024;
/** Most bytes all of a recipe's env values may hold together. */
export const MAX_ENV_TOTAL_BYTES = 1024 * 1024;

const REFERENCE = /(\\)?(\$)(\()?\{?([A-Z0-9_]+)?\}?/g;

/**
 * godotenv's expansion: `$VAR`, `${VAR}` with VAR of [A-Z0-9_]; `\$` and `$(` are left literal (the
 * backslash dropped); an unknown name expands to "". Undefined when the result would be over `max`
 * bytes: measured before the string is built, so no value grows past its bound even for a moment.
 */
export function expand(
  v: string,
  vars: Readonly<Record<string, string>>,
  max = MAX_ENV_VALUE_BYTES,
): string | undefined {
  // The exact length of the result, counted before it is built.
  let size = v.length;
  for (const m of v.matchAll(REFERENCE))
    size += replacement(m[0], m[1], m[3], m[4], vars).length - m[0].length;
  if (size > max) return undefined;
  return v.replace(REFERENCE, (whole, esc?: string, _d?: string, paren?: string, name?: string) =>
    replacement(whole, esc, paren, name, vars),
  );
}

function replacement(
  whole: string,
  esc: string | undefined,
  paren: string | undefined,
  name: string | undefined,
  vars: Readonly<Record<string, string>>,
): string {
  if (esc === "\\" || paren === "(") return whole.slice(1);
  if (name) return vars[name] ?? "";
  return whole;
}

/** abra's modifiers in a trailing comment: `length=N`, `generate=false`, `charset=…`, space separated. */
function parseHints(comment: string): EnvHints | undefined {
  if (!comment) return undefined;
  const h: EnvHints = {};
  for (const word of comment.trim().split(/\s+/)) {
    const [k, v] = word.split("=", 2);
    if (v === undefined) continue;
    if (k === "length" && /^\d+$/.test(v)) h.length = Number(v);
    else if (k === "generate") h.generate = v !== "false";
    else if (k === "charset") h.charset = v;
  }
  return Object.keys(h).length > 0 ? h : undefined;
}

/**
 * abra.sh's `export NAME=value` lines (the versions of configs and secrets). Like abra, only plain
 * `export NAME=value` lines count; anything else in the script is not run.
 */
export function parseAbraSh(text: string): { values: Record<string, string>; ignored: number[] } {
  const values: Record<string, string> = {};
  const ignored: number[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const m = /^export\s+([A-Za-z_][A-Za-z0-9_]*)=("[\w.+-]*"|'[\w.+-]*'|[\w.+-]*)\s*(#.*)?$/.exec(
      line.trim(),
    );
    if (m) values[m[1]] = m[2].replace(/^(["'])(.*)\1$/, "$2");
    else if (/^export\s/.test(line.trim())) ignored.push(i + 1);
  });
  return { values, ignored };
}

/**
 * Alphabets of abra's secret generator (the passgen library's): letters without l, I and O, digits
 * without 0 and 1, and the special characters; `safespecial` leaves out `$`.
 */
export const CHARSETS = {
  default: "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789",
  special: "!@#$%^&*_-+=",
  safespecial: "!@#%^&*_-+=",
} as const;

/** The alphabet a `charset=` modifier names: a known name, or names joined by commas. */
export function charsetAlphabet(charset: string | undefined): { alphabet: string; unknown: string[] } {
  if (charset === undefined || charset === "") return { alphabet: CHARSETS.default, unknown: [] };
  const unknown: string[] = [];
  let alphabet = "";
  for (const part of charset.split(",")) {
    const a = CHARSETS[part.trim() as keyof typeof CHARSETS];
    if (a) alphabet += a;
    else unknown.push(part);
  }
  // abra falls back to its default alphabet for a charset it does not know.
  return { alphabet: alphabet || CHARSETS.default, unknown };
}
