import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { realmRepresentation } from "../../lib/adoptedRealm";
import type { KeycloakAdmin, RealmInput, RealmSummary } from "../../automation/adapters/keycloak";
import { FolderLeaseStore, holdLease, runClaims, type RunClaims } from "../../automation/adapters/leases";
import {
  claimRealm,
  fillPool,
  poolRealmRepresentation,
  pooledRealms,
  realmClaimKey,
  type PoolClaims,
} from "../../automation/adapters/realmPool";

const tick = () => new Promise((r) => setImmediate(r));

/**
 * Keycloak's realm endpoints as far as the pool uses them, in memory, with the real server's
 * behaviour under concurrency (seen on Keycloak 26.7 with four runs at once): a rename loads the
 * realm, then writes it, and another rename of the same realm can come in between — both succeed,
 * the last write wins, and each renamer reads its own rename back for a while (a stale cache). A
 * rename to a taken name is refused, a realm that is gone is 404. The real endpoints are exercised
 * by the e2e suite (test/e2e/realmPool.test.ts).
 */
class FakeKeycloak {
  readonly realmsByName = new Map<string, RealmSummary>();
  /** What each rename reads back of its own write (stale until the cache catches up). */
  private readonly stale = new Map<string, RealmSummary>();

  async realms(): Promise<RealmSummary[]> {
    return [...this.realmsByName.values()].map((r) => ({ ...r }));
  }
  async realm(name: string): Promise<RealmSummary | undefined> {
    return this.stale.get(name) ?? this.realmsByName.get(name);
  }
  async createRealm(rep: RealmInput): Promise<void> {
    if (this.realmsByName.has(rep.realm)) throw new Error(`409 ${rep.realm}`);
    await tick(); // the insert's transaction: others may count the realms meanwhile
    this.realmsByName.set(rep.realm, { id: rep.realm, ...rep });
  }
  async updateRealm(name: string, rep: RealmInput): Promise<boolean> {
    const had = this.realmsByName.get(name);
    await tick(); // between load and commit
    if (!had) return false;
    if (rep.realm !== name && this.realmsByName.has(rep.realm)) return false;
    for (const [n, r] of this.realmsByName) if (r.id === had.id) this.realmsByName.delete(n);
    const now = { ...had, ...rep, id: had.id };
    this.realmsByName.set(rep.realm, now);
    this.stale.set(rep.realm, now);
    return true;
  }
}

const admin = (kc: FakeKeycloak) => kc as unknown as KeycloakAdmin;
const rep = (runId: string) => realmRepresentation(runId, runId, "cc-ci.run");
/** Claims that never refuse: what the pool did before runs claimed realms exclusively. */
const noClaims: PoolClaims = { take: async () => true, release: async () => undefined };

let dir: string;
let store: FolderLeaseStore;
const held: { release(): Promise<void> }[] = [];
/** A live run (its lease held) and its claims, on the test's own lease folder. */
async function liveRun(runId: string): Promise<RunClaims> {
  held.push(await holdLease(store, runId, `run-${runId}`));
  return runClaims(store, runId);
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "ccci-pool-"));
  store = new FolderLeaseStore(dir);
});
afterEach(async () => {
  for (const h of held.splice(0)) await h.release();
  rmSync(dir, { recursive: true, force: true });
});

describe("realm pool", () => {
  test("a run claims a pooled realm by renaming it: its name, display name and run attribute; no pool attribute", async () => {
    const kc = new FakeKeycloak();
    await fillPool(admin(kc), "warm", 2);
    expect(await pooledRealms(admin(kc), "warm")).toHaveLength(2);
    const got = await claimRealm(admin(kc), rep("web-abc123"), "warm", await liveRun("web-abc123"));
    expect(got).toEqual({ from: "pool", pooled: 2 });
    expect(await pooledRealms(admin(kc), "warm")).toHaveLength(1);
    expect(kc.realmsByName.get("web-abc123")).toMatchObject({
      displayName: "cc-ci run web-abc123",
      attributes: { "cc-ci.run": "web-abc123" },
      sslRequired: "none",
    });
  });

  test("an empty pool: the realm is created", async () => {
    const kc = new FakeKeycloak();
    const got = await claimRealm(admin(kc), rep("web-abc123"), "warm", await liveRun("web-abc123"));
    expect(got).toEqual({ from: "created", pooled: 0 });
    expect(kc.realmsByName.get("web-abc123")?.attributes).toEqual({ "cc-ci.run": "web-abc123" });
  });

  test("another warm stack's pooled realms are not taken", async () => {
    const kc = new FakeKeycloak();
    await fillPool(admin(kc), "warm-e2e", 2);
    expect((await claimRealm(admin(kc), rep("web-abc123"), "warm", await liveRun("web-abc123"))).from).toBe(
      "created",
    );
    expect(await pooledRealms(admin(kc), "warm-e2e")).toHaveLength(2);
  });

  test("without exclusive claims, two runs renaming one pooled realm at once both believe they have it", async () => {
    // The fake reproduces the race the claims exist for (else the next tests would prove nothing).
    const kc = new FakeKeycloak();
    await kc.createRealm(poolRealmRepresentation("warm", "000001"));
    const [a, b] = await Promise.all([
      claimRealm(admin(kc), rep("web-aaaaaa"), "warm", noClaims),
      claimRealm(admin(kc), rep("web-bbbbbb"), "warm", noClaims),
    ]);
    expect([a.from, b.from]).toEqual(["pool", "pool"]);
    // Only one of the two realms really exists.
    expect(["web-aaaaaa", "web-bbbbbb"].filter((n) => kc.realmsByName.has(n))).toHaveLength(1);
  });

  test("two runs racing for the last pooled realm: one claims it, the other creates its own", async () => {
    const kc = new FakeKeycloak();
    await kc.createRealm(poolRealmRepresentation("warm", "000001"));
    const [ca, cb] = [await liveRun("web-aaaaaa"), await liveRun("web-bbbbbb")];
    const [a, b] = await Promise.all([
      claimRealm(admin(kc), rep("web-aaaaaa"), "warm", ca),
      claimRealm(admin(kc), rep("web-bbbbbb"), "warm", cb),
    ]);
    expect([a.from, b.from].sort()).toEqual(["created", "pool"]);
    for (const id of ["web-aaaaaa", "web-bbbbbb"])
      expect(kc.realmsByName.get(id)?.attributes?.["cc-ci.run"]).toBe(id);
    expect(await pooledRealms(admin(kc), "warm")).toEqual([]);
  });

  test.each([
    [3, 8],
    [4, 4],
    [5, 2],
  ])(
    "a pool of %i, %i runs at once: every run has a realm of its own, and each pooled realm went to one run",
    async (size, runs) => {
      const kc = new FakeKeycloak();
      await fillPool(admin(kc), "warm", size);
      const ids = Array.from({ length: runs }, (_, i) => `web-${String(i).padStart(6, "0")}`);
      const claims = await Promise.all(ids.map(liveRun));
      const got = await Promise.all(ids.map((id, i) => claimRealm(admin(kc), rep(id), "warm", claims[i])));
      for (const id of ids) expect(kc.realmsByName.get(id)?.attributes?.["cc-ci.run"]).toBe(id);
      expect(got.filter((g) => g.from === "pool")).toHaveLength(Math.min(size, runs));
      expect(await pooledRealms(admin(kc), "warm")).toHaveLength(Math.max(0, size - runs));
    },
  );

  test("a claim on a pooled realm is kept until the run gives its claims back", async () => {
    const kc = new FakeKeycloak();
    await kc.createRealm(poolRealmRepresentation("warm", "000001"));
    const claims = await liveRun("web-aaaaaa");
    await claimRealm(admin(kc), rep("web-aaaaaa"), "warm", claims);
    expect(await store.claims()).toEqual([{ slot: realmClaimKey("ccci-pool-000001"), runId: "web-aaaaaa" }]);
    await claims.releaseAll();
    expect(await store.claims()).toEqual([]);
  });

  test("a pooled realm claimed by a run that is gone (no live lease) is taken over", async () => {
    const kc = new FakeKeycloak();
    await kc.createRealm(poolRealmRepresentation("warm", "000001"));
    await store.claim(realmClaimKey("ccci-pool-000001"), "web-dead00");
    const got = await claimRealm(admin(kc), rep("web-abc123"), "warm", await liveRun("web-abc123"));
    expect(got.from).toBe("pool");
    expect(kc.realmsByName.get("web-abc123")?.attributes).toEqual({ "cc-ci.run": "web-abc123" });
  });

  test("a pooled realm a live run has claimed is left to it", async () => {
    const kc = new FakeKeycloak();
    await kc.createRealm(poolRealmRepresentation("warm", "000001"));
    await (await liveRun("web-other0")).take(realmClaimKey("ccci-pool-000001"));
    const got = await claimRealm(admin(kc), rep("web-abc123"), "warm", await liveRun("web-abc123"));
    expect(got.from).toBe("created");
    expect(kc.realmsByName.has("ccci-pool-000001")).toBe(true);
  });

  test("a rename that reads back as another run's realm is not trusted", async () => {
    const kc = new FakeKeycloak();
    await kc.createRealm(poolRealmRepresentation("warm", "000001"));
    // Someone outside cc-ci's claims renames the realm again right after ours.
    const real = kc.updateRealm.bind(kc);
    kc.updateRealm = async (name, r) => {
      const ok = await real(name, r);
      if (ok) {
        kc.realmsByName.delete(r.realm);
        kc.realmsByName.set("web-0ther1", { id: "x", ...rep("web-0ther1") });
        (kc as unknown as { stale: Map<string, unknown> }).stale.clear();
      }
      return ok;
    };
    const got = await claimRealm(admin(kc), rep("web-abc123"), "warm", await liveRun("web-abc123"));
    expect(got.from).toBe("created");
    expect(kc.realmsByName.get("web-abc123")?.attributes).toEqual({ "cc-ci.run": "web-abc123" });
    expect(kc.realmsByName.get("web-0ther1")).toBeDefined();
    expect(await store.claims()).toEqual([]);
  });

  test("topping up: to the pool's size, at most `most` at a time", async () => {
    const kc = new FakeKeycloak();
    expect(await fillPool(admin(kc), "warm", 4, 1)).toBe(1);
    expect(await fillPool(admin(kc), "warm", 4)).toBe(3);
    expect(await fillPool(admin(kc), "warm", 4)).toBe(0);
    const names = await pooledRealms(admin(kc), "warm");
    expect(names).toHaveLength(4);
    for (const n of names) expect(n).toMatch(/^ccci-pool-[0-9a-f]{6}$/);
  });

  test("top-ups at once: without claims they overfill the pool; with them it ends at its size", async () => {
    const unclaimed = new FakeKeycloak();
    await Promise.all([0, 1, 2, 3].map(() => fillPool(admin(unclaimed), "warm", 3, 2, noClaims)));
    expect((await pooledRealms(admin(unclaimed), "warm")).length).toBeGreaterThan(3);

    const kc = new FakeKeycloak();
    const runs = await Promise.all(["a", "b", "c", "d"].map((x) => liveRun(`web-${x.repeat(6)}`)));
    await Promise.all(runs.map((c) => fillPool(admin(kc), "warm", 3, 2, c)));
    expect(await pooledRealms(admin(kc), "warm")).toHaveLength(3);
    expect(await store.claims()).toEqual([]);
  });

  test("a top-up that cannot get its turn in time says so", async () => {
    const kc = new FakeKeycloak();
    const never: PoolClaims = { take: async () => false, release: async () => undefined };
    await expect(fillPool(admin(kc), "warm", 3, 1, never, 300)).rejects.toThrow(
      /another run has been topping the realm pool up for 0.3 s/,
    );
  });
});
