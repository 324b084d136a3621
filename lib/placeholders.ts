/**
 * Run values that are secrets (the OIDC client secret, the test user's password) are generated while
 * the stack deploys, but a recipe's environment is written before. The loader therefore sees a
 * placeholder for each, and RecipeApp swaps the real value in, marking the result secret.
 */
import * as pulumi from "@pulumi/pulumi";

export function placeholder(name: string): string {
  return `@@cc-ci-secret:${name}@@`;
}

const TOKEN = /@@cc-ci-secret:([A-Z0-9_]+)@@/g;

export function hasPlaceholder(text: string): boolean {
  return new RegExp(TOKEN.source).test(text);
}

/** `text` with every placeholder replaced; a secret Output when any was, else the text itself. */
export function resolvePlaceholders(
  text: string,
  values: Readonly<Record<string, pulumi.Input<string>>>,
): pulumi.Input<string> {
  if (!hasPlaceholder(text)) return text;
  const names = [...new Set([...text.matchAll(TOKEN)].map((m) => m[1]))];
  for (const n of names) if (!(n in values)) throw new Error(`no value for run secret ${n}`);
  return pulumi.secret(
    pulumi.all(names.map((n) => values[n])).apply((vals) => {
      const byName = Object.fromEntries(names.map((n, i) => [n, vals[i]]));
      return text.replace(TOKEN, (_, n: string) => byName[n]);
    }),
  );
}
