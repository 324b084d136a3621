/**
 * A small pool of realms on the warm Keycloak, made ahead of runs so that a run's realm is ready
 * at once: creating a realm takes Keycloak about a second (it generates the realm's keys), renaming
 * one a few tens of milliseconds. A run claims a pooled realm by renaming it to its own realm and
 * giving it its run attribute, then tops the pool up in the background while it deploys. The pool
 * lives in Keycloak, not in the warm stack's state: its realms are consumed by runs. Audits leave
 * pooled realms alone (they carry no run attribute) and report how many there are.
 */
import type { RealmRepresentation } from "../../lib/adoptedRealm";
import { newRunHex, POOL_ATTRIBUTE, POOL_REALM_PREFIX, RUN_ATTRIBUTE } from "../../lib/naming";
import type { KeycloakAdmin } from "./keycloak";

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
 * Exclusive claims among the runs sharing the warm Keycloak (RunClaims in leases.ts). Keycloak
 * cannot arbitrate a claim itself: two renames of one realm at the same moment both succeed (the
 * last write wins) and each reads its own rename back, so both runs would take the realm, and one
 * would put its client in the other's realm and delete it at teardown. Seen on the real Keycloak
 * 26.7 with four runs at once (test/e2e/realmPool.test.ts makes that collision every round).
 */
export interface PoolClaims {
  take(key: string): Promise<boolean>;
  release(key: string): Promise<void>;
}

/** The claim a run holds while it renames pooled realm `name` (kept to the run's end). */
export const realmClaimKey = (name: string) => `realm-${name}`;
/** The claim a run holds while it tops the pool of `warmStack` up. */
export const poolFillKey = (warmStack: string) => `realm-pool-${warmStack}`;

/**
 * Makes the run's realm: a pooled one it has claimed, renamed (and read back), or, when none is
 * left for it, a new one. The claim on a renamed realm is kept (the run's claims are given back
 * when it ends), so a run that listed the pool before the rename never tries that realm again.
 */
export async function claimRealm(
  admin: KeycloakAdmin,
  rep: RealmRepresentation,
  warmStack: string,
  claims: PoolClaims,
): Promise<{ from: "pool" | "created"; pooled: number }> {
  const pooled = await pooledRealms(admin, warmStack);
  // A random start, so concurrent runs mostly try different realms.
  const start = Math.floor(Math.random() * Math.max(1, pooled.length));
  for (let i = 0; i < pooled.length; i++) {
    const name = pooled[(start + i) % pooled.length];
    const key = realmClaimKey(name);
    if (!(await claims.take(key))) continue;
    if (await admin.updateRealm(name, rep)) {
      const got = await admin.realm(rep.realm);
      if (got?.attributes?.[RUN_ATTRIBUTE] === rep.attributes[RUN_ATTRIBUTE])
        return { from: "pool", pooled: pooled.length };
    }
    await claims.release(key);
  }
  await admin.createRealm(rep);
  return { from: "created", pooled: pooled.length };
}

/**
 * Creates pooled realms until `size` are there (at most `most` in this call). Returns how many it
 * made. With `claims`, one filler at a time counts and fills (others wait up to `waitMs`), so
 * concurrent top-ups never take the pool past its size.
 */
export async function fillPool(
  admin: KeycloakAdmin,
  warmStack: string,
  size: number,
  most = size,
  claims?: PoolClaims,
  waitMs = 60_000,
): Promise<number> {
  const key = poolFillKey(warmStack);
  if (claims) {
    const deadline = Date.now() + waitMs;
    while (!(await claims.take(key))) {
      if (Date.now() > deadline)
        throw new Error(`another run has been topping the realm pool up for ${waitMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    const have = (await pooledRealms(admin, warmStack)).length;
    const want = Math.min(most, Math.max(0, size - have));
    for (let i = 0; i < want; i++) await admin.createRealm(poolRealmRepresentation(warmStack));
    return want;
  } finally {
    await claims?.release(key);
  }
}
