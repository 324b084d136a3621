/**
 * Stage 4 (services), continued: how Swarm keeps one service's tasks running — its healthcheck, its
 * mode, restart and update policies, resources (the run's defaults where the recipe sets none) and
 * placement. Planned for service.ts's planService; the warnings go to the plan's context.
 */
import type { RunLimits } from "../config";
import { bytes } from "../units";
import type { Service } from "./composeConfig";
import type { ServiceSpec } from "./model";
import type { PlanContext } from "./plan";

type Deploy = NonNullable<Service["deploy"]>;

/**
 * The healthcheck as the recipe writes it: disabled (`NONE`), a test with its timings, or none (the
 * image's own) when it sets no test. start_interval is dropped with a warning: neither this engine
 * nor the docker provider supports it.
 */
export function serviceHealthcheck(
  ctx: PlanContext,
  where: string,
  h: Service["healthcheck"],
): ServiceSpec["healthcheck"] {
  if (h?.start_interval)
    ctx.warnings.push(
      `${where}.healthcheck.start_interval: not applied (neither this engine nor the docker provider supports it)`,
    );
  return (
    h &&
    (h.disable
      ? { test: ["NONE"] }
      : h.test
        ? {
            test: h.test,
            interval: h.interval,
            timeout: h.timeout,
            startPeriod: h.start_period,
            retries: h.retries,
          }
        : undefined)
  );
}

/**
 * How Swarm schedules the service: replicated (one replica unless the recipe says) or global, its
 * restart and update policies, resources and placement. The deploy gives every service DNS round
 * robin, so endpoint_mode vip is replaced, with a warning: virtual IPs do not route on every swarm.
 */
export function deploySettings(
  ctx: PlanContext,
  where: string,
  d: Deploy,
  limits: RunLimits,
): Pick<ServiceSpec, "mode" | "restartPolicy" | "updateConfig" | "resources" | "placement"> {
  if (d.endpoint_mode === "vip")
    ctx.warnings.push(
      `${where}.deploy.endpoint_mode: vip replaced by dnsrr (virtual IPs do not route on every swarm; DNS round robin does)`,
    );
  return {
    mode: d.mode === "global" ? "global" : { replicas: d.replicas ?? 1 },
    restartPolicy: restartPolicy(d.restart_policy),
    updateConfig: updatePolicy(d.update_config),
    resources: resourceLimits(d.resources, limits),
    placement: placementPrefs(d.placement),
  };
}

/** The recipe's restart policy as written; none when it sets none. */
function restartPolicy(p: Deploy["restart_policy"]): ServiceSpec["restartPolicy"] {
  return (
    p && {
      condition: p.condition,
      delay: p.delay,
      maxAttempts: p.max_attempts,
      window: p.window,
    }
  );
}

/** The recipe's update policy as written; the failure ratio as the string the provider takes. */
function updatePolicy(u: Deploy["update_config"]): ServiceSpec["updateConfig"] {
  return (
    u && {
      parallelism: u.parallelism,
      delay: u.delay,
      failureAction: u.failure_action,
      monitor: u.monitor,
      maxFailureRatio: u.max_failure_ratio?.toString(),
      order: u.order,
    }
  );
}

/**
 * Resource limits, the run's defaults where the recipe sets none, so no task may take the whole
 * host: a memory limit of 0 is "no limit" to Docker, so it too takes the run's default (rules.ts
 * warns), as does a CPU limit that is not positive. Reservations as the recipe writes them.
 */
function resourceLimits(r: Deploy["resources"], limits: RunLimits): ServiceSpec["resources"] {
  const lim = r?.limits;
  const res = r?.reservations;
  return {
    limits: {
      memoryBytes: lim?.memory !== undefined && lim.memory > 0 ? lim.memory : bytes(limits.memory),
      nanoCpus: Math.round((Number(lim?.cpus) > 0 ? Number(lim?.cpus) : limits.cpus) * 1e9),
    },
    reservations: res && {
      memoryBytes: res.memory,
      nanoCpus: res.cpus !== undefined ? Math.round(Number(res.cpus) * 1e9) : undefined,
    },
  };
}

/**
 * Placement: the recipe's spread preferences and replicas per node. Constraints are the CI's to set
 * (the rules refuse the recipe's): the deploy adds the operator's.
 */
function placementPrefs(p: Deploy["placement"]): ServiceSpec["placement"] {
  return {
    constraints: [],
    prefs: (p?.preferences ?? []).map((x) => `spread=${x.spread}`),
    maxReplicas: p?.max_replicas_per_node,
  };
}
