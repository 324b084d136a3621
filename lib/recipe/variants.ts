/**
 * A recipe's variants: the configurations it offers, each `.cc-ci/variants/<name>.env`, an env
 * overlay over `.env.sample` read as abra reads an app's env file (an operator's app with the SMTP
 * overlay in its `COMPOSE_FILE`, with SSO on, …). `cc-ci run --variant NAME` tests one, `cc-ci run
 * --all-variants` each of them and the recipe as it comes, `cc-ci check` plans every one. The folder
 * is listed through the recipe's resolver, its entries bounded.
 */
import { opendirSync, statSync } from "node:fs";
import type { RecipeFiles } from "./files";

export const VARIANTS_DIR = ".cc-ci/variants";
/** A variant's name: what its file is called without `.env`; it shows in reports and JUnit suites. */
export const VARIANT_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Most variants a recipe may offer (each is a whole run). */
export const MAX_VARIANTS = 16;
/** Most entries of the folder read (what else is there is not the loader's business). */
const MAX_ENTRIES = 256;

export function variantFile(name: string): string {
  return `${VARIANTS_DIR}/${name}.env`;
}

/** `name` shown in a message: cut, quoted (it is the recipe's bytes). */
const shown = (name: string) => JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);

/** The recipe's variants by name, sorted; problems (a bad name, too many) without their content. */
export function listVariants(files: RecipeFiles): { names: string[]; problems: string[] } {
  if (!files.present(VARIANTS_DIR)) return { names: [], problems: [] };
  const r = files.resolve(VARIANTS_DIR);
  if (!r.ok) return { names: [], problems: [`${VARIANTS_DIR}: ${r.message}`] };
  if (!statSync(r.path).isDirectory()) return { names: [], problems: [`${VARIANTS_DIR}: is not a folder`] };
  const names: string[] = [];
  const problems: string[] = [];
  const dir = opendirSync(r.path);
  try {
    let seen = 0;
    for (let e = dir.readSync(); e !== null; e = dir.readSync()) {
      if (++seen > MAX_ENTRIES) {
        problems.push(`${VARIANTS_DIR}: more than ${MAX_ENTRIES} entries; the rest were not read`);
        break;
      }
      if (!e.name.endsWith(".env")) continue;
      const name = e.name.slice(0, -".env".length);
      if (!VARIANT_NAME.test(name))
        problems.push(
          `${VARIANTS_DIR}: ${shown(e.name)} does not name a variant (lower-case letters, digits, _ and -, 32 at most, then .env)`,
        );
      else names.push(name);
    }
  } finally {
    dir.closeSync();
  }
  if (names.length > MAX_VARIANTS)
    problems.push(`${VARIANTS_DIR}: ${names.length} variants; at most ${MAX_VARIANTS} are tested`);
  return { names: names.sort(), problems };
}
