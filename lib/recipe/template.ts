/**
 * Configs with `template_driver: golang` are rendered by Docker when a task starts. The docker
 * provider cannot set a template driver, so the loader renders them itself, for the functions recipes
 * use: `{{ env "NAME" }}` (the service's environment) and `{{ secret "name" }}` (a secret mounted in
 * the service), with Go's `{{-`/`-}}` trimming. Anything else in `{{ }}` is refused by name rather than
 * deployed unrendered.
 */

export type TemplatePart = string | { secret: string };

export interface Rendered {
  parts: TemplatePart[];
  errors: string[];
}

const ACTION = /\{\{(-?)\s*([\s\S]*?)\s*(-?)\}\}/g;

export function renderTemplate(
  text: string,
  env: Readonly<Record<string, string>>,
  secrets: ReadonlySet<string>,
): Rendered {
  const parts: TemplatePart[] = [];
  const errors: string[] = [];
  let last = 0;
  let trimNext = false;
  const pushText = (s: string) => {
    if (s === "") return;
    const tail = parts[parts.length - 1];
    if (typeof tail === "string") parts[parts.length - 1] = tail + s;
    else parts.push(s);
  };
  for (const m of text.matchAll(ACTION)) {
    let literal = text.slice(last, m.index);
    if (trimNext) literal = literal.replace(/^\s+/, "");
    if (m[1] === "-") literal = literal.replace(/\s+$/, "");
    pushText(literal);
    trimNext = m[3] === "-";
    last = (m.index ?? 0) + m[0].length;
    const action = m[2];
    if (action.startsWith("/*")) continue; // a comment
    const call = /^(env|secret)\s+"([^"]*)"$/.exec(action);
    if (!call) {
      errors.push(`unsupported template action {{ ${action} }} (supported: env "NAME", secret "name")`);
      continue;
    }
    const [, fn, arg] = call;
    if (fn === "env") {
      const v = env[arg];
      if (v === undefined) errors.push(`{{ env "${arg}" }}: ${arg} is not in the service's environment`);
      pushText(v ?? "");
    } else {
      if (!secrets.has(arg))
        errors.push(`{{ secret "${arg}" }}: no secret "${arg}" is mounted in the service`);
      else parts.push({ secret: arg });
    }
  }
  let rest = text.slice(last);
  if (trimNext) rest = rest.replace(/^\s+/, "");
  pushText(rest);
  return { parts, errors };
}
