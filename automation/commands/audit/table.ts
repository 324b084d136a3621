/** The audit report as a table for people (the JSON report is for machines). */
import type { AuditReport } from "./index";
import { humanBytes } from "../../../lib/units";

export function auditTable(r: AuditReport): string {
  const min = (ms?: number) => (ms === undefined ? "?" : `${Math.round(ms / 60000)}m`);
  const lines: string[] = [
    `cc-ci audit at ${r.at} (${(r.durationMs / 1000).toFixed(1)} s): ${r.clean ? "CLEAN" : "NOT CLEAN"}`,
  ];
  lines.push(`run stacks: ${r.stacks.length}`);
  for (const s of r.stacks) {
    const lock = s.lock ? `lock ${s.lock.host}:${s.lock.pid} ${s.lock.alive ? "alive" : "DEAD"}` : "no lock";
    lines.push(
      `  ${s.name.padEnd(24)} age ${min(s.ageMs).padStart(5)}  ${String(s.resourceCount ?? "?").padStart(3)} res  ${lock}  ${s.stale ? `STALE: ${s.reason}${s.reaped ? (s.forced ? ` → removed by force (${s.forced})` : " → reaped") : ""}` : "ok"}${s.error ? `  error: ${s.error}` : ""}`,
    );
  }
  lines.push(`residue in the swarm (no live stack): ${r.residue.docker.length}`);
  for (const o of r.residue.docker)
    lines.push(
      `  ${o.kind.padEnd(9)} ${o.name.padEnd(48)} run ${o.runId} recipe ${o.recipe ?? "?"} age ${min(o.ageMs)}${o.removed ? " → removed" : ""}`,
    );
  lines.push(`residue in Keycloak (no live stack): ${r.residue.realms.length}`);
  for (const x of r.residue.realms)
    lines.push(`  realm ${x.realm}${x.runId ? ` run ${x.runId}` : ""}${x.removed ? " → removed" : ""}`);
  if (r.residue.units.length > 0 || r.warm.deps) {
    lines.push(`residue on warm dependencies (no live stack): ${r.residue.units.length}`);
    for (const u of r.residue.units)
      lines.push(
        `  ${u.kind} unit ${u.unit}${u.runId ? ` run ${u.runId}` : ""} ${humanBytes(u.bytes)}${u.removed ? " → removed" : ""}`,
      );
  }
  if (r.residue.processes.length > 0) {
    lines.push(`plugin processes of killed runs on this host: ${r.residue.processes.length}`);
    for (const p of r.residue.processes)
      lines.push(`  pid ${p.pid} run ${p.runId} ${p.command}${p.killed ? " → ended" : ""}`);
  }
  const w = r.warm;
  lines.push(
    w.exists
      ? `warm layer: traefik ${w.traefik ? "ok" : "DOWN"}, keycloak ${w.keycloak ? "ok" : "DOWN"}, drift ${w.drift === false ? "none" : w.drift}${w.realmPool !== undefined ? `, realm pool ${w.realmPool}` : ""}${w.problems.length ? `, problems: ${w.problems.join("; ")}` : ""}`
      : "warm layer: absent",
  );
  for (const [kind, ok] of Object.entries(w.deps ?? {}))
    lines.push(
      `warm ${kind}: ${ok ? "ok" : "DOWN"}${w.depsBytes?.[kind as "postgres"] !== undefined ? `, live runs' units ${humanBytes(w.depsBytes[kind as "postgres"])}` : ""}`,
    );
  if (w.registry)
    lines.push(
      `image registry: ${w.registry.answers ? "ok" : "DOWN"}, ${humanBytes(w.registry.usedBytes)} of a ${humanBytes(w.registry.budgetBytes)} budget${w.registry.over ? " — OVER" : ""}${w.registry.reaped ? ` (${w.registry.reaped})` : ""}`,
    );
  lines.push(
    `disk: ${humanBytes(r.disk.usedBytes)} used by Docker (${r.disk.dataRoot ?? "?"}) of a ${humanBytes(r.disk.budgetBytes)} budget${r.disk.over ? " — OVER" : ""}${r.disk.pruned?.length ? ` (after removing ${r.disk.pruned.length} unused pulled image(s))` : ""}`,
  );
  for (const e of r.errors) lines.push(`error: ${e}`);
  return lines.join("\n");
}
