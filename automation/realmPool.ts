/**
 * A small pool of realms on the warm Keycloak, made ahead of runs so that a run's realm is ready
 * at once: creating a realm takes Keycloak about a second (it generates the realm's keys), renaming
 * one a few tens of milliseconds. A run claims a pooled realm by renaming it to its own realm and
 * giving it its run attribute, then tops the pool up in the background while it deploys. The pool
 * lives in Keycloak, not in the warm stack's state: its realms are consumed by runs. Audits leave
 * pooled realms alone (they carry no run attribute) and report how many there are.
 */
import type { RealmRepresentation } from "../lib/adoptedRealm";
import { newRunHex, POOL_ATTRIBUTE, POOL_REALM_PREFIX, RUN_ATTRIBUTE } from "../lib/naming";
import type { KeycloakAdmin } from "./keycloakAdmin";

export function poolRealmRepresentation(warmStack: string, hex = newRunHex()): RealmRepresentation {
  return {
    realm: `${POOL_REALM_PREFIX}${hex}`,
    enabled: true,
    displayName: `cc-ci pool ${warmStack}`,
    attributes: { [POOL_ATTRIBUTE]: warmStack },
    sslRequired: "none",
  };
}

/** Names of the pooled realms of `warmStack` that `admin` sees. */
export async function pooledRealms(admin: KeycloakAdmin, warmStack: string): Promise<string[]> {
  return (await admin.realms(true))
    .filter((r) => r.realm.startsWith(POOL_REALM_PREFIX) && r.displayName === `cc-ci pool ${warmStack}`)
    .map((r) => r.realm);
}

/**
 * Makes the run's realm: a pooled one renamed (checked afterwards, since two runs may race for one
 * realm), or, when none is left, a new one. Returns where it came from and how many pooled realms
 * were seen.
 */
export async function claimRealm(
  admin: KeycloakAdmin,
  rep: RealmRepresentation,
  warmStack: string,
): Promise<{ from: "pool" | "created"; pooled: number }> {
  const pooled = await pooledRealms(admin, warmStack);
  // A random start, so concurrent runs mostly try different realms.
  const start = Math.floor(Math.random() * Math.max(1, pooled.length));
  for (let i = 0; i < pooled.length; i++) {
    const name = pooled[(start + i) % pooled.length];
    if (!(await admin.updateRealm(name, rep))) continue;
    const got = await admin.realm(rep.realm);
    if (got?.attributes?.[RUN_ATTRIBUTE] === rep.attributes[RUN_ATTRIBUTE])
      return { from: "pool", pooled: pooled.length };
  }
  await admin.createRealm(rep);
  return { from: "created", pooled: pooled.length };
}

/** Creates pooled realms until `size` are there (at most `most` in this call). Returns how many it made. */
export async function fillPool(
  admin: KeycloakAdmin,
  warmStack: string,
  size: number,
  most = size,
): Promise<number> {
  const have = (await pooledRealms(admin, warmStack)).length;
  const want = Math.min(most, Math.max(0, size - have));
  for (let i = 0; i < want; i++) await admin.createRealm(poolRealmRepresentation(warmStack));
  return want;
}
