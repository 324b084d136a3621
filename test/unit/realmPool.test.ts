import { realmRepresentation } from "../../lib/adoptedRealm";
import type { KeycloakAdmin, RealmInput, RealmSummary } from "../../automation/keycloakAdmin";
import { claimRealm, fillPool, poolRealmRepresentation, pooledRealms } from "../../automation/realmPool";

/**
 * Keycloak's realm endpoints as far as the pool uses them, in memory: a rename to a taken name is
 * refused (409), a realm that is gone is 404. The real endpoints are exercised by the e2e suite.
 */
class FakeKeycloak {
  readonly realmsByName = new Map<string, RealmSummary>();
  /** Called between a rename's check and its write (a second claimant racing in). */
  onUpdate?: (name: string) => Promise<void> | void;

  async realms(): Promise<RealmSummary[]> {
    return [...this.realmsByName.values()].map((r) => ({ ...r }));
  }
  async realm(name: string): Promise<RealmSummary | undefined> {
    return this.realmsByName.get(name);
  }
  async createRealm(rep: RealmInput): Promise<void> {
    if (this.realmsByName.has(rep.realm)) throw new Error(`409 ${rep.realm}`);
    this.realmsByName.set(rep.realm, { id: rep.realm, ...rep });
  }
  async updateRealm(name: string, rep: RealmInput): Promise<boolean> {
    await this.onUpdate?.(name);
    const had = this.realmsByName.get(name);
    if (!had) return false;
    if (rep.realm !== name && this.realmsByName.has(rep.realm)) return false;
    this.realmsByName.delete(name);
    this.realmsByName.set(rep.realm, { ...had, ...rep, id: had.id });
    return true;
  }
}

const admin = (kc: FakeKeycloak) => kc as unknown as KeycloakAdmin;
const rep = (runId: string) => realmRepresentation(runId, runId, "cc-ci.run");

describe("realm pool", () => {
  test("a run claims a pooled realm by renaming it: its name, display name and run attribute; no pool attribute", async () => {
    const kc = new FakeKeycloak();
    await fillPool(admin(kc), "warm", 2);
    expect(await pooledRealms(admin(kc), "warm")).toHaveLength(2);
    const got = await claimRealm(admin(kc), rep("web-abc123"), "warm");
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
    expect(await claimRealm(admin(kc), rep("web-abc123"), "warm")).toEqual({ from: "created", pooled: 0 });
    expect(kc.realmsByName.get("web-abc123")?.attributes).toEqual({ "cc-ci.run": "web-abc123" });
  });

  test("another warm stack's pooled realms are not taken", async () => {
    const kc = new FakeKeycloak();
    await fillPool(admin(kc), "warm-e2e", 2);
    expect((await claimRealm(admin(kc), rep("web-abc123"), "warm")).from).toBe("created");
    expect(await pooledRealms(admin(kc), "warm-e2e")).toHaveLength(2);
  });

  test("two runs racing for the last pooled realm: one claims it, the other creates its own", async () => {
    const kc = new FakeKeycloak();
    await kc.createRealm(poolRealmRepresentation("warm", "000001"));
    const [a, b] = await Promise.all([
      claimRealm(admin(kc), rep("web-aaaaaa"), "warm"),
      claimRealm(admin(kc), rep("web-bbbbbb"), "warm"),
    ]);
    expect([a.from, b.from].sort()).toEqual(["created", "pool"]);
    for (const id of ["web-aaaaaa", "web-bbbbbb"])
      expect(kc.realmsByName.get(id)?.attributes?.["cc-ci.run"]).toBe(id);
    expect(await pooledRealms(admin(kc), "warm")).toEqual([]);
  });

  test("a rename that reads back as another run's realm is not trusted", async () => {
    const kc = new FakeKeycloak();
    await kc.createRealm(poolRealmRepresentation("warm", "000001"));
    // Last write wins: another claimant renames the realm again right after ours.
    const real = kc.updateRealm.bind(kc);
    kc.updateRealm = async (name, r) => {
      const ok = await real(name, r);
      if (ok) await real(r.realm, { ...rep("web-0ther1") });
      return ok;
    };
    const got = await claimRealm(admin(kc), rep("web-abc123"), "warm");
    expect(got.from).toBe("created");
    expect(kc.realmsByName.get("web-abc123")?.attributes).toEqual({ "cc-ci.run": "web-abc123" });
    expect(kc.realmsByName.get("web-0ther1")).toBeDefined();
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
});
