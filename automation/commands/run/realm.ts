/**
 * The realm phase (warm Keycloak only): the run's realm exists within a second or two of the start,
 * a pooled realm renamed to the run's or, when the pool is empty, a new one; the run stack adopts it.
 * The pool is topped up in the background while the run deploys.
 */
import { realmRepresentation } from "../../../lib/adoptedRealm";
import { OWNER_ATTRIBUTE, RUN_ATTRIBUTE, type RunNames } from "../../../lib/naming";
import type { KeycloakContract } from "../../../lib/contract";
import { provisioningAdmin } from "../../adapters/keycloak";
import { claimRealm, fillPool, type PoolClaims } from "../../adapters/realmPool";

export interface RunRealmMade {
  from: "pool" | "created";
  /** The pool's top-up, under way (never rejects; a failure is a warning). */
  topUp: Promise<string | undefined>;
}

export async function makeRunRealm(
  keycloak: KeycloakContract,
  names: RunNames,
  warmStack: string,
  claims: PoolClaims,
  owner?: string,
): Promise<RunRealmMade> {
  const admin = provisioningAdmin(keycloak);
  const rep = realmRepresentation(
    names.realm,
    names.runId,
    RUN_ATTRIBUTE,
    owner ? { attribute: OWNER_ATTRIBUTE, id: owner } : undefined,
  );
  const size = keycloak.realmPool;
  if (size === 0) {
    await admin.createRealm(rep);
    return { from: "created", topUp: Promise.resolve(undefined) };
  }
  const got = await claimRealm(admin, rep, warmStack, claims);
  // One realm back for the one taken (two when the pool ran dry), never past its size.
  const topUp = fillPool(admin, warmStack, size, got.from === "pool" ? 1 : 2, claims).then(
    () => undefined,
    (e: Error) => `topping up the realm pool: ${e.message}`,
  );
  return { from: got.from, topUp };
}
