/**
 * Configs with `template_driver: golang`, rendered as dockerd renders them when a task starts, by
 * dockerd's own code (swarmkit's template package, through `ccci-compose render`): `{{ env "X" }}`
 * from the service's environment ("" when unset), `{{ secret "x" }}` and `{{ config "x" }}` by target,
 * `{{ .Service.Name }}`, and every text/template built-in (`if`, `eq`, `range`, …). The docker provider
 * cannot set a template driver, so configs are deployed rendered. A secret's value is only known at
 * deploy time: the renderer gets a token for it, and the rendered text is split around the tokens.
 */
import { callHelper } from "./helpers";

/** Rendered content: text, and the secrets (by recipe key) filled in at deploy time. */
export type TemplatePart = string | { secret: string };

export interface RenderItem {
  id: string;
  template: string;
  /** The container's environment as `K=V`. */
  env: string[];
  /** Mounted secrets: target → recipe key. */
  secrets: Record<string, string>;
  /** Mounted configs: target → content. */
  configs: Record<string, string>;
  service: { name: string; labels: Record<string, string> };
}

// The token is made of characters no template output has by accident (control characters are
// exactly what a rendered text file does not contain).
const MARK = String.fromCharCode(1);
const token = (key: string) => `${MARK}cc-ci-secret:${key}${MARK}`;
const TOKEN = new RegExp(`${MARK}cc-ci-secret:([^${MARK}]*)${MARK}`, "g");

/** Renders every item in one call; parts per id, or the error dockerd would report. */
export function renderTemplates(
  items: RenderItem[],
): Map<string, { parts: TemplatePart[] } | { error: string }> {
  const out = new Map<string, { parts: TemplatePart[] } | { error: string }>();
  if (items.length === 0) return out;
  const res = callHelper<{ items: ({ id: string; content: string } | { id: string; error: string })[] }>(
    "compose",
    "render",
    {
      items: items.map((i) => ({
        id: i.id,
        template: i.template,
        env: i.env,
        secrets: Object.fromEntries(Object.entries(i.secrets).map(([target, key]) => [target, token(key)])),
        configs: i.configs,
        service: { id: i.service.name, name: i.service.name, labels: i.service.labels },
        node: { id: "ci-node", hostname: "", platform: { os: "linux", architecture: "x86_64" } },
        task: { id: "ci-task", name: "", slot: 1 },
      })),
    },
  );
  for (const r of res.items)
    out.set(r.id, "error" in r ? { error: r.error } : { parts: splitTokens(r.content) });
  return out;
}

function splitTokens(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push({ secret: m[1] });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}
