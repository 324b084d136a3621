import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { Lease, LeaseStore } from "./lease";

/** Leases as files in a folder (a file backend: agents on one host, or sharing the folder). */
export class FolderLeaseStore implements LeaseStore {
  constructor(private readonly dir: string) {}

  get where(): string {
    return this.dir;
  }

  private file(runId: string): string {
    return path.join(this.dir, `${runId}.json`);
  }

  private slotFile(slot: string): string {
    return path.join(this.dir, "slots", `${slot}.claim`);
  }

  async write(lease: Lease): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file(lease.runId)}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(lease));
    // rename is atomic: a reader sees the old or the new record, never half of one.
    renameSync(tmp, this.file(lease.runId));
  }

  async remove(runId: string): Promise<void> {
    rmSync(this.file(runId), { force: true });
  }

  async list(): Promise<Lease[]> {
    if (!existsSync(this.dir)) return [];
    const out: Lease[] = [];
    for (const f of readdirSync(this.dir).filter((x) => x.endsWith(".json"))) {
      try {
        out.push(JSON.parse(readFileSync(path.join(this.dir, f), "utf8")) as Lease);
      } catch {
        continue; // a record being replaced; the next audit reads it
      }
    }
    return out;
  }

  async claim(slot: string, runId: string): Promise<string | undefined> {
    mkdirSync(path.dirname(this.slotFile(slot)), { recursive: true, mode: 0o700 });
    try {
      // Created exclusively: the first creator wins.
      writeFileSync(this.slotFile(slot), runId, { flag: "wx", mode: 0o600 });
      return runId;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    try {
      return readFileSync(this.slotFile(slot), "utf8").trim();
    } catch {
      return undefined;
    }
  }

  async unclaim(slot: string, owner: string): Promise<void> {
    try {
      if (readFileSync(this.slotFile(slot), "utf8").trim() === owner)
        rmSync(this.slotFile(slot), { force: true });
    } catch {
      // already gone
    }
  }

  async claims(): Promise<{ slot: string; runId: string }[]> {
    const dir = path.join(this.dir, "slots");
    if (!existsSync(dir)) return [];
    const out: { slot: string; runId: string }[] = [];
    for (const f of readdirSync(dir).filter((x) => x.endsWith(".claim"))) {
      try {
        out.push({
          slot: f.slice(0, -".claim".length),
          runId: readFileSync(path.join(dir, f), "utf8").trim(),
        });
      } catch {
        continue; // released meanwhile
      }
    }
    return out;
  }

  async close(): Promise<void> {}
}
