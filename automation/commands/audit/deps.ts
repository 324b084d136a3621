/**
 * The audit of the warm dependencies: each warm instance answers its provisioning role, and a unit
 * whose run is gone (no live stack, no live lease; this backend's or no backend's) is residue —
 * listed, and removed with --reap, as a realm is.
 */
import type { DepsContract } from "../../../lib/contract";
import { dropUnit, listUnits, type PgLogin } from "../../../lib/deps/postgres";
import { dropS3Unit, listS3Units, s3Admin, S3_UNIT_PATTERN } from "../../../lib/deps/s3";
import { isResidue, type AuditLimits } from "./judge";

export interface UnitResidue {
  kind: "postgres" | "s3";
  unit: string;
  runId?: string;
  bytes: number;
  removed?: boolean;
}

export interface DepsAudit {
  /** Whether each warm instance answers, by kind. */
  answers: Partial<Record<"postgres" | "s3", boolean>>;
  units: UnitResidue[];
  /** What the units of live runs hold, in bytes, by kind. */
  liveBytes: Partial<Record<"postgres" | "s3", number>>;
}

/** `ccci_note_1a2b3c_db` → `note-1a2b3c`, for a unit whose note is missing (its run died making it). */
export function runOfUnit(unit: string): string | undefined {
  const m = /^ccci_([a-z0-9]{1,4})_([0-9a-f]{6})_/.exec(unit);
  return m ? `${m[1]}-${m[2]}` : undefined;
}

export async function auditDeps(
  deps: DepsContract | undefined,
  live: ReadonlySet<string>,
  limits: AuditLimits,
  reap: boolean,
  log: (l: string) => void,
  errors: string[],
): Promise<DepsAudit> {
  const out: DepsAudit = { answers: {}, units: [], liveBytes: {} };
  if (deps?.s3) await auditS3(deps.s3, live, limits, reap, log, errors, out);
  const pg = deps?.postgres;
  if (!pg) return out;
  const login: PgLogin = {
    host: pg.adminHost,
    port: pg.adminPort,
    user: pg.provisioning.user,
    password: pg.provisioning.password,
  };
  let units;
  try {
    units = await listUnits(login);
    out.answers.postgres = true;
  } catch (e) {
    out.answers.postgres = false;
    errors.push(`warm postgres: ${(e as Error).message}`);
    return out;
  }
  let liveBytes = 0;
  for (const u of units) {
    const runId = u.note?.run ?? runOfUnit(u.unit);
    // No creation time here: a live lease or stack is what protects a young run's unit.
    if (!runId || !isResidue({ runId, owner: u.note?.owner }, live, { ...limits, graceMs: 0 })) {
      liveBytes += u.bytes;
      continue;
    }
    const residue: UnitResidue = { kind: "postgres", unit: u.unit, runId, bytes: u.bytes };
    if (reap) {
      try {
        await dropUnit(login, u.unit);
        residue.removed = true;
        log(`removed postgres unit ${u.unit}`);
      } catch (e) {
        errors.push(`postgres unit ${u.unit}: ${(e as Error).message}`);
      }
    }
    out.units.push(residue);
  }
  out.liveBytes.postgres = liveBytes;
  return out;
}

/** The warm S3 server's units: an account `ccci-<owner>-<run>-<dep>` and the buckets it owns. */
async function auditS3(
  s3: NonNullable<DepsContract["s3"]>,
  live: ReadonlySet<string>,
  limits: AuditLimits,
  reap: boolean,
  log: (l: string) => void,
  errors: string[],
  out: DepsAudit,
): Promise<void> {
  const root = s3Admin(s3);
  let units;
  try {
    units = await listS3Units(root);
    out.answers.s3 = true;
  } catch (e) {
    out.answers.s3 = false;
    errors.push(`warm s3: ${(e as Error).message}`);
    return;
  }
  for (const u of units) {
    const m = S3_UNIT_PATTERN.exec(u.unit);
    if (!m) continue;
    const owner = m[1] === "none" ? undefined : m[1];
    if (!isResidue({ runId: m[2], owner }, live, { ...limits, graceMs: 0 })) continue;
    const residue: UnitResidue = { kind: "s3", unit: u.unit, runId: m[2], bytes: 0 };
    if (reap) {
      try {
        await dropS3Unit(root, u.unit, u.buckets);
        residue.removed = true;
        log(`removed s3 unit ${u.unit} (buckets: ${u.buckets.join(", ") || "none"})`);
      } catch (e) {
        errors.push(`s3 unit ${u.unit}: ${(e as Error).message}`);
      }
    }
    out.units.push(residue);
  }
}
