/**
 * The realm pool on the real warm Keycloak, under the concurrency that broke it: many runs claiming,
 * using, topping up and deleting realms at the same moment. Without exclusive claims two runs could
 * rename one pooled realm at once, both succeed and both read their rename back (seen with four runs:
 * a client put in another run's realm, then that realm deleted, and once Keycloak's database left
 * with a realm whose master admin client was gone, so that listing realms failed for everyone).
 * Here each run holds a live lease and claims through the same store the runs use.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  provisioningAdmin,
  provisioningProblem,
  type KeycloakAdmin,
} from "../../automation/adapters/keycloak";
import { FolderLeaseStore, holdLease, runClaims } from "../../automation/adapters/leases";
import { claimRealm, fillPool, pooledRealms } from "../../automation/adapters/realmPool";
import { readWarm, withWorkspace, homeName } from "../../automation/adapters/pulumi";
import { realmRepresentation } from "../../lib/adoptedRealm";
import type { KeycloakContract } from "../../lib/contract";
import { newRunHex, RUN_ATTRIBUTE } from "../../lib/naming";
import { describeE2E } from "./prereq";
import { WARM, e2eEnv, ensureWarm } from "./harness";

/** A pool of its own on the warm Keycloak (pooled realms are told apart by their warm stack's name). */
const POOL = "race-e2e";
const SIZE = 3;
const RUNS = 6;
const ROUNDS = 4;

let kc: KeycloakContract;
let dir: string;

async function expectOk(res: Response, what: string): Promise<void> {
  if (!res.ok) throw new Error(`${what}: ${res.status} ${await res.text()}`);
}

/** What a run does with its realm: claim it, put a client and a user in it, log in, top up, delete it. */
async function oneRun(store: FolderLeaseStore): Promise<{ realm: string; from: string }> {
  const hex = newRunHex();
  const runId = `race-${hex}`;
  const lease = await holdLease(store, runId, `run-${runId}`);
  const claims = runClaims(store, runId);
  const admin: KeycloakAdmin = provisioningAdmin(kc);
  const rep = realmRepresentation(`race-${hex}`, runId, RUN_ATTRIBUTE);
  try {
    const got = await claimRealm(admin, rep, POOL, claims);
    try {
      const r = `/realms/${rep.realm}`;
      // A second run in this realm would find the client taken (409) or the realm gone (404).
      await expectOk(
        await admin.call("POST", `${r}/clients`, {
          clientId: "app",
          secret: `s-${hex}`,
          publicClient: false,
          directAccessGrantsEnabled: true,
          redirectUris: [`http://${hex}.example/*`],
        }),
        `${runId}: client`,
      );
      await expectOk(
        await admin.call("POST", `${r}/users`, {
          username: "ci-user",
          enabled: true,
          email: `ci-user@${hex}.example`,
          emailVerified: true,
          firstName: "CI",
          lastName: "User",
          credentials: [{ type: "password", value: `p-${hex}`, temporary: false }],
        }),
        `${runId}: user`,
      );
      const login = await fetch(`${kc.adminUrl}${r}/protocol/openid-connect/token`, {
        method: "POST",
        body: new URLSearchParams({
          grant_type: "password",
          client_id: "app",
          client_secret: `s-${hex}`,
          username: "ci-user",
          password: `p-${hex}`,
        }),
      });
      await expectOk(login, `${runId}: login`);
      const mine = await admin.realm(rep.realm);
      if (mine?.attributes?.[RUN_ATTRIBUTE] !== runId)
        throw new Error(`${runId}: realm ${rep.realm} reads as ${JSON.stringify(mine?.attributes)}`);
      await fillPool(admin, POOL, SIZE, got.from === "pool" ? 1 : 2, claims);
      return { realm: rep.realm, from: got.from };
    } finally {
      await admin.deleteRealm(rep.realm);
    }
  } finally {
    await claims.releaseAll();
    await lease.release();
  }
}

describeE2E("realm pool under concurrent runs", () => {
  beforeAll(async () => {
    await ensureWarm(e2eEnv());
    const warm = await withWorkspace(e2eEnv(), homeName("e2e-pool"), (ws) => readWarm(ws, WARM));
    if (!warm.read?.ok || !warm.read.keycloak) throw new Error(`the warm stack ${WARM} has no Keycloak`);
    kc = warm.read.keycloak;
    dir = mkdtempSync(path.join(tmpdir(), "ccci-e2e-pool-"));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    if (!kc) return;
    const admin = provisioningAdmin(kc);
    const pooled = await pooledRealms(admin, POOL);
    for (const r of await admin.realms(true))
      if (r.realm.startsWith("race-") || pooled.includes(r.realm)) await admin.deleteRealm(r.realm);
  });

  test(`${RUNS} runs at once, ${ROUNDS} times: each has a realm of its own, Keycloak stays whole, the pool ends at its size`, async () => {
    const store = new FolderLeaseStore(dir);
    const admin = provisioningAdmin(kc);
    // Every run goes for the same pooled realm first (claimRealm starts at a random one): the
    // collision the claims must resolve, every round rather than now and then.
    jest.spyOn(Math, "random").mockReturnValue(0);
    await fillPool(admin, POOL, SIZE);
    const seen = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      const results = await Promise.allSettled(Array.from({ length: RUNS }, () => oneRun(store)));
      expect(results.map((r) => (r.status === "rejected" ? String(r.reason) : "ok"))).toEqual(
        results.map(() => "ok"),
      );
      const got = results.map((r) => (r as PromiseFulfilledResult<{ realm: string; from: string }>).value);
      expect(got.filter((g) => g.from === "pool").length).toBeGreaterThan(0);
      for (const g of got) seen.add(g.realm);
      // Every realm listing still works (a realm left without its master admin client breaks it).
      const realms = (await admin.realms(true)).map((r) => r.realm);
      expect(realms.filter((r) => r.startsWith("race-"))).toEqual([]);
      expect(await pooledRealms(admin, POOL)).toHaveLength(SIZE);
    }
    expect(seen.size).toBe(RUNS * ROUNDS);
    expect(await new FolderLeaseStore(dir).claims()).toEqual([]);
  });

  test("the warm check asks what a run will: a Keycloak that answers but will not let the provisioning client in is not usable", async () => {
    expect(await provisioningProblem(kc)).toBeUndefined();
    const wrong = { ...kc, provisioning: { ...kc.provisioning, clientSecret: "not-the-secret" } };
    expect(await provisioningProblem(wrong)).toMatch(/token request failed: 401/);
    // A port nothing listens on: said as such, not as a bare "fetch failed".
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, "127.0.0.1", () => {
        const port = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(port));
      });
    });
    expect(await provisioningProblem({ ...kc, adminUrl: `http://127.0.0.1:${closed}` })).toMatch(
      /fetch failed \(ECONNREFUSED\)/,
    );
  });
});
