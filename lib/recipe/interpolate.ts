/**
 * Variable interpolation as Docker Compose and Co-op Cloud's .env files do it:
 * `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`,
 * `${VAR:?error}`, `${VAR?error}`, and `$$` for a literal `$`. Defaults may themselves refer to
 * variables. Written here because no maintained JavaScript library implements Compose's rules;
 * compose-go's interpolation tests were the reference.
 */

export interface InterpolationResult {
  value: string;
  /** Variables referred to but not set (Compose substitutes "" and warns). */
  unset: string[];
  /** `${VAR:?message}` failures. */
  errors: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

export function interpolate(
  text: string,
  vars: Readonly<Record<string, string | undefined>>,
): InterpolationResult {
  const unset: string[] = [];
  const errors: string[] = [];
  const value = expand(text, vars, unset, errors);
  return { value, unset, errors };
}

function expand(
  text: string,
  vars: Readonly<Record<string, string | undefined>>,
  unset: string[],
  errors: string[],
): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== "$") {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === "$") {
      out += "$";
      i += 2;
      continue;
    }
    if (next === "{") {
      const end = matchingBrace(text, i + 1);
      if (end < 0) {
        errors.push(`unterminated "\${" in ${JSON.stringify(text)}`);
        out += text.slice(i);
        break;
      }
      out += braced(text.slice(i + 2, end), vars, unset, errors);
      i = end + 1;
      continue;
    }
    const m = NAME.exec(text.slice(i + 1));
    if (m) {
      out += lookup(m[0], vars, unset);
      i += 1 + m[0].length;
      continue;
    }
    // A lone "$" (e.g. at the end, or before a space) stays as it is, as in Compose.
    out += c;
    i++;
  }
  return out;
}

function matchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let j = open; j < text.length; j++) {
    if (text[j] === "{") depth++;
    else if (text[j] === "}") {
      depth--;
      if (depth === 0) return j;
    }
  }
  return -1;
}

function lookup(name: string, vars: Readonly<Record<string, string | undefined>>, unset: string[]): string {
  const v = vars[name];
  if (v === undefined) {
    if (!unset.includes(name)) unset.push(name);
    return "";
  }
  return v;
}

function braced(
  body: string,
  vars: Readonly<Record<string, string | undefined>>,
  unset: string[],
  errors: string[],
): string {
  const m = NAME.exec(body);
  if (!m) {
    errors.push(`invalid variable reference "\${${body}}"`);
    return "";
  }
  const name = m[0];
  const rest = body.slice(name.length);
  if (rest === "") return lookup(name, vars, unset);
  const op = /^(:-|-|:\+|\+|:\?|\?)/.exec(rest);
  if (!op) {
    errors.push(`invalid variable reference "\${${body}}"`);
    return "";
  }
  const arg = rest.slice(op[0].length);
  const value = vars[name];
  const isSet = value !== undefined;
  const nonEmpty = isSet && value !== "";
  switch (op[0]) {
    case ":-":
      return nonEmpty ? value : expand(arg, vars, unset, errors);
    case "-":
      return isSet ? value : expand(arg, vars, unset, errors);
    case ":+":
      return nonEmpty ? expand(arg, vars, unset, errors) : "";
    case "+":
      return isSet ? expand(arg, vars, unset, errors) : "";
    case ":?":
    case "?": {
      const ok = op[0] === ":?" ? nonEmpty : isSet;
      if (ok) return value as string;
      errors.push(
        `required variable ${name} is missing a value${arg ? `: ${expand(arg, vars, unset, errors)}` : ""}`,
      );
      return "";
    }
  }
  return "";
}
