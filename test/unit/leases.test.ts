/** holdLease: a run's lease, renewed in the background, gone for good once released. */
import { holdLease, type Lease, type LeaseStore } from "../../automation/adapters/leases";

/** A store whose writes take a while, as a database's can: a delete may come while one is in flight. */
function slowStore(writeMs: number) {
  const leases = new Map<string, Lease>();
  const store = {
    where: "memory",
    write: (l: Lease) => new Promise<void>((r) => setTimeout(() => (leases.set(l.runId, l), r()), writeMs)),
    remove: async (id: string) => void leases.delete(id),
    list: async () => [...leases.values()],
  } as unknown as LeaseStore;
  return { store, leases };
}

describe("holdLease", () => {
  const ttl = process.env.CC_CI_LEASE_TTL_S;
  beforeAll(() => (process.env.CC_CI_LEASE_TTL_S = "4.5")); // a heartbeat a second
  afterAll(() =>
    ttl === undefined ? delete process.env.CC_CI_LEASE_TTL_S : (process.env.CC_CI_LEASE_TTL_S = ttl),
  );

  test("a heartbeat still being written when the run ends does not bring the lease back", async () => {
    const { store, leases } = slowStore(400);
    const held = await holdLease(store, "web-abc123", "run-web-abc123");
    expect([...leases.keys()]).toEqual(["web-abc123"]);
    // Released while the next heartbeat (due after 1 s) is being written.
    await new Promise((r) => setTimeout(r, 1200));
    await held.release();
    expect([...leases.keys()]).toEqual([]);
    await new Promise((r) => setTimeout(r, 1500));
    expect([...leases.keys()]).toEqual([]);
  });
});
