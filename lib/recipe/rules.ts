/**
 * Stage 3 of the loader: what must never run on a shared CI host, as a list of named rules. Each
 * rule looks at the loaded config (Docker's own reading of the recipe) and adds problems (refused,
 * with the policy switch that would allow it) or warnings. Adding a rule touches only this list.
 * The Traefik labels have rules of their own (traefik.ts), checked on what Traefik decodes.
 */
import type { RecipePolicy, RunLimits } from "../config";
import { formatProblem, type Problem } from "../errors";
import { bytes, durationNs } from "../units";
import type { ComposeConfig, Service } from "./composeConfig";
import type { RecipeFiles } from "./files";

export interface RuleContext {
  config: ComposeConfig;
  files: RecipeFiles;
  policy: RecipePolicy;
  limits: RunLimits;
  /** Docker name of the shared proxy network (a recipe's external `proxy` network). */
  proxyNetwork: string;
  /** A problem placed at the file and line where `path` is written. */
  at(path: string, message: string): Problem;
}

export interface Findings {
  problems: Problem[];
  warnings: string[];
}

export interface Rule {
  name: string;
  check(ctx: RuleContext, out: Findings): void;
}

const refused = (what: string, switchName: string) =>
  `${what} is refused on a shared CI host (allow with policy.${switchName})`;

/**
 * A value over one of the run's maxima: lowered to it by `lower` with a warning at its file and line
 * (limits.overMaximum `clamp`: abra deploys the recipe, so the run does, within the host's bounds),
 * or a problem (`refuse`).
 */
function overMaximum(
  ctx: RuleContext,
  out: Findings,
  path: string,
  message: string,
  lower: () => void,
): void {
  if (ctx.limits.overMaximum === "refuse") {
    out.problems.push(ctx.at(path, message));
    return;
  }
  lower();
  out.warnings.push(`${formatProblem(ctx.at(path, message))}; lowered to it (limits.overMaximum: clamp)`);
}

function eachService(ctx: RuleContext, fn: (key: string, svc: Service, where: string) => void): void {
  for (const [key, svc] of Object.entries(ctx.config.services)) fn(key, svc, `services.${key}`);
}

/** The Docker socket (or its folder) under any of its usual names. */
export function isDockerSocket(p: string): boolean {
  return (
    /(^|\/)docker(\.sock)?$/.test(p) || /^\/(var\/)?run(\/docker)?\/?$/.test(p) || p.endsWith("docker.sock")
  );
}

/** Logging drivers whose files rotate (max-size, max-file), forced within the run's budget (service.ts). */
export const LOG_ROTATED: ReadonlySet<string> = new Set(["json-file", "local"]);

export const RULES: Rule[] = [
  {
    name: "privileged",
    check(ctx, out) {
      eachService(ctx, (_k, svc, where) => {
        if (svc.privileged === true && !ctx.policy.privileged)
          out.problems.push(ctx.at(`${where}.privileged`, refused("a privileged service", "privileged")));
      });
    },
  },
  {
    name: "host-namespaces",
    check(ctx, out) {
      eachService(ctx, (_k, svc, where) => {
        for (const k of ["network_mode", "pid", "ipc", "userns_mode", "cgroup", "uts"]) {
          const v = svc[k];
          if (v === undefined) continue;
          if (
            String(v) === "host" ||
            String(v).startsWith("container:") ||
            String(v).startsWith("service:")
          ) {
            if (!ctx.policy.hostNamespaces)
              out.problems.push(ctx.at(`${where}.${k}`, refused(`${k}: ${String(v)}`, "hostNamespaces")));
          }
        }
      });
      for (const [key, net] of Object.entries(ctx.config.networks ?? {}))
        if (net.external && (net.name ?? key) === "host" && !ctx.policy.hostNamespaces)
          out.problems.push(ctx.at(`networks.${key}`, refused("the host network", "hostNamespaces")));
    },
  },
  {
    name: "capabilities",
    check(ctx, out) {
      eachService(ctx, (_k, svc, where) => {
        if (ctx.policy.capabilities) return;
        if (svc.cap_add?.length)
          out.problems.push(
            ctx.at(
              `${where}.cap_add`,
              refused(`added capabilities (${svc.cap_add.join(", ")})`, "capabilities"),
            ),
          );
        for (const k of ["devices", "security_opt", "device_cgroup_rules"])
          if (Array.isArray(svc[k]) && (svc[k] as unknown[]).length > 0)
            out.problems.push(ctx.at(`${where}.${k}`, refused(k.replace(/_/g, " "), "capabilities")));
      });
    },
  },
  {
    name: "mounts",
    check(ctx, out) {
      eachService(ctx, (_k, svc, where) => {
        (svc.volumes ?? []).forEach((m, i) => {
          const here = `${where}.volumes.${i}`;
          if (m.type === "bind") {
            const src = m.source ?? "";
            if (isDockerSocket(src)) {
              if (!ctx.policy.dockerSocket)
                out.problems.push(ctx.at(here, refused("mounting the Docker socket", "dockerSocket")));
              return;
            }
            const inside = ctx.files.resolve(src);
            if (inside.ok) {
              if (!m.read_only)
                out.warnings.push(
                  `${here}: ${ctx.files.relative(inside.path)} is mounted read-only (a run's copy of the recipe is never written to)`,
                );
            } else if (!ctx.policy.bindMountsOutsideRecipe)
              out.problems.push(
                ctx.at(
                  here,
                  refused(`a bind mount of ${src} (outside the recipe)`, "bindMountsOutsideRecipe"),
                ),
              );
          } else if (m.type === "tmpfs") {
            const max = bytes(ctx.limits.maxTmpfs);
            const tmpfs = m.tmpfs;
            if (tmpfs && (tmpfs.size ?? 0) > max)
              overMaximum(
                ctx,
                out,
                `${here}.tmpfs.size`,
                `a tmpfs of ${tmpfs.size} bytes is over the run's limit of ${max} (limits.maxTmpfs)`,
                () => (tmpfs.size = max),
              );
          } else if (m.type !== "volume") {
            out.problems.push(ctx.at(`${here}.type`, `mount type "${m.type}" is not supported on a swarm`));
          }
        });
      });
      for (const [key, vol] of Object.entries(ctx.config.volumes ?? {})) {
        const o = vol.driver_opts ?? {};
        const bindLike =
          (o.o ?? "").split(",").includes("bind") || o.device !== undefined || o.type === "nfs";
        if (bindLike && !ctx.policy.bindMountsOutsideRecipe)
          out.problems.push(
            ctx.at(
              `volumes.${key}.driver_opts`,
              refused("a volume bound to a host device or path", "bindMountsOutsideRecipe"),
            ),
          );
        if (vol.driver && vol.driver !== "local")
          out.problems.push(
            ctx.at(
              `volumes.${key}.driver`,
              `volume driver "${vol.driver}" is not available to CI runs (only local)`,
            ),
          );
      }
    },
  },
  {
    name: "networks",
    check(ctx, out) {
      for (const [key, net] of Object.entries(ctx.config.networks ?? {})) {
        const name = net.name ?? key;
        if (net.external) {
          if (name !== "proxy" && key !== "proxy" && name !== ctx.proxyNetwork && name !== "host")
            out.problems.push(
              ctx.at(
                `networks.${key}`,
                `external network "${name}" is not offered by the CI (only "proxy" is)`,
              ),
            );
        } else if (net.driver && net.driver !== "overlay") {
          out.problems.push(
            ctx.at(`networks.${key}.driver`, `driver "${net.driver}" cannot span a swarm; use overlay`),
          );
        }
      }
    },
  },
  {
    name: "limits",
    check(ctx, out) {
      const l = ctx.limits;
      const maxMem = bytes(l.maxMemory);
      eachService(ctx, (_k, svc, where) => {
        const d = svc.deploy ?? {};
        if (d.mode === "global") out.warnings.push(`${where}.deploy.mode: global runs one task per node`);
        if ((d.replicas ?? 1) > l.maxReplicas)
          overMaximum(
            ctx,
            out,
            `${where}.deploy.replicas`,
            `${d.replicas} replicas are over the run's limit of ${l.maxReplicas} (limits.maxReplicas)`,
            () => (d.replicas = l.maxReplicas),
          );
        const h = svc.healthcheck;
        for (const key of ["interval", "start_interval"] as const) {
          const v = h?.[key];
          if (v !== undefined && !h?.disable && durationNs(v) < durationNs(l.minHealthcheckInterval))
            out.problems.push(
              ctx.at(
                `${where}.healthcheck.${key}`,
                `${v} is under the run's floor of ${l.minHealthcheckInterval} (limits.minHealthcheckInterval): dockerd runs every probe outside the task's limits`,
              ),
            );
        }
        for (const kind of ["limits", "reservations"] as const) {
          const r = d.resources?.[kind];
          // Docker reads 0 as "no limit": such a limit gets the run's default (service.ts), said here.
          if (kind === "limits" && r?.cpus !== undefined && !(Number(r.cpus) > 0))
            out.warnings.push(
              `${where}.deploy.resources.limits.cpus: ${r.cpus} would be no limit at all; the run's default of ${l.cpus} applies`,
            );
          if (kind === "limits" && r?.memory !== undefined && !(r.memory > 0))
            out.warnings.push(
              `${where}.deploy.resources.limits.memory: ${r.memory} would be no limit at all; the run's default of ${l.memory} applies`,
            );
          if (r?.memory !== undefined && r.memory > maxMem)
            overMaximum(
              ctx,
              out,
              `${where}.deploy.resources.${kind}.memory`,
              `${r.memory} bytes are over the run's limit of ${maxMem} (limits.maxMemory)`,
              () => (r.memory = maxMem),
            );
          if (r?.cpus !== undefined && Number(r.cpus) > l.maxCpus)
            overMaximum(
              ctx,
              out,
              `${where}.deploy.resources.${kind}.cpus`,
              `${r.cpus} CPUs are over the run's limit of ${l.maxCpus} (limits.maxCpus)`,
              () => (r.cpus = String(l.maxCpus)),
            );
        }
        if (
          svc.stop_grace_period !== undefined &&
          durationNs(svc.stop_grace_period) > durationNs(l.maxStopGracePeriod)
        )
          overMaximum(
            ctx,
            out,
            `${where}.stop_grace_period`,
            `${svc.stop_grace_period} is over the run's limit of ${l.maxStopGracePeriod} (limits.maxStopGracePeriod)`,
            () => (svc.stop_grace_period = l.maxStopGracePeriod),
          );
        const driver = svc.logging?.driver;
        if (svc.logging?.options && driver !== undefined && !LOG_ROTATED.has(driver) && driver !== "none")
          out.problems.push(
            ctx.at(
              `${where}.logging.options`,
              `options of logging driver "${driver}" are refused: only json-file and local logs are rotated within the run's budget`,
            ),
          );
        if (driver !== undefined && !l.loggingDrivers.includes(driver))
          out.problems.push(
            ctx.at(
              `${where}.logging.driver`,
              `logging driver "${driver}" is not allowed (limits.loggingDrivers: ${l.loggingDrivers.join(", ")})`,
            ),
          );
      });
    },
  },
  {
    name: "size",
    check(ctx, out) {
      const l = ctx.limits;
      const services = Object.values(ctx.config.services);
      if (services.length > l.maxServices)
        out.problems.push(
          ctx.at(
            "services",
            `${services.length} services are over the run's limit of ${l.maxServices} (limits.maxServices)`,
          ),
        );
      const replicas = services.reduce(
        (n, s) => n + (s.deploy?.mode === "global" ? 1 : (s.deploy?.replicas ?? 1)),
        0,
      );
      if (replicas > l.maxTotalReplicas)
        out.problems.push(
          ctx.at(
            "services",
            `${replicas} replicas in all are over the run's limit of ${l.maxTotalReplicas} (limits.maxTotalReplicas)`,
          ),
        );
    },
  },
  {
    name: "host-reach",
    check(ctx, out) {
      eachService(ctx, (_k, svc, where) => {
        if (svc.sysctls && Object.keys(svc.sysctls).length > 0)
          out.problems.push(
            ctx.at(
              `${where}.sysctls`,
              "sysctls change the host's kernel settings for the container; refused on a shared CI host",
            ),
          );
        const constraints = svc.deploy?.placement?.constraints ?? [];
        if (constraints.length > 0)
          out.problems.push(
            ctx.at(
              `${where}.deploy.placement.constraints`,
              "placement constraints are the CI's to set (they could pin a run to a manager or a chosen node); remove them",
            ),
          );
        if (svc.ulimits)
          out.warnings.push(
            `${where}.ulimits: not applied (the CI's docker provider cannot set them on services)`,
          );
        if (Array.isArray(svc.ports) && svc.ports.length > 0)
          out.warnings.push(
            `${where}.ports: published ports are not exposed in CI (apps are reached through Traefik)`,
          );
      });
    },
  },
  {
    name: "files",
    check(ctx, out) {
      for (const kind of ["secrets", "configs"] as const)
        for (const [key, obj] of Object.entries(ctx.config[kind] ?? {})) {
          if (obj.file === undefined) continue;
          const r = ctx.files.resolve(obj.file);
          if (!r.ok) out.problems.push(ctx.at(`${kind}.${key}.file`, r.message));
        }
    },
  },
];

/** Runs every rule; what they found, in rule order. */
export function checkRules(ctx: RuleContext, rules: readonly Rule[] = RULES): Findings {
  const out: Findings = { problems: [], warnings: [] };
  for (const rule of rules) rule.check(ctx, out);
  return out;
}
