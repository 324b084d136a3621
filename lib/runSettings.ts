/**
 * What an operator allows and bounds for every run on a shared host: the recipe policy (what must
 * never run unless allowed), the run's resource limits, and the sandbox its tests execute in. Part
 * of the run's config (lib/config.ts) and of the operator's run defaults file.
 */
import { z } from "zod";
import { byteSize } from "./configTypes";

export const RecipePolicy = z.strictObject({
  privileged: z.boolean().default(false).describe("Allow `privileged: true` services. Default: false."),
  hostNamespaces: z
    .boolean()
    .default(false)
    .describe("Allow host networking and host PID/IPC namespaces. Default: false."),
  dockerSocket: z.boolean().default(false).describe("Allow mounting the Docker socket. Default: false."),
  bindMountsOutsideRecipe: z
    .boolean()
    .default(false)
    .describe("Allow bind mounts of paths outside the recipe folder. Default: false."),
  capabilities: z
    .boolean()
    .default(false)
    .describe("Allow added capabilities, devices and security options. Default: false."),
});
export type RecipePolicy = z.output<typeof RecipePolicy>;

/** What one run's services may use at most on a shared host, and what they get when they say nothing. */
export const RunLimits = z.strictObject({
  maxReplicas: z
    .number()
    .int()
    .positive()
    .default(3)
    .describe("Most replicas a recipe's service may ask for. Default: 3."),
  memory: byteSize.default("512m").describe("Memory limit of a task whose recipe sets none. Default: 512m."),
  maxMemory: byteSize
    .default("2g")
    .describe("Largest memory limit or reservation a task may ask for. Default: 2g."),
  cpus: z
    .number()
    .positive()
    .default(1)
    .describe("CPU limit (cores) of a task whose recipe sets none. Default: 1."),
  maxCpus: z
    .number()
    .positive()
    .default(2)
    .describe("Largest CPU limit or reservation a task may ask for. Default: 2."),
  maxTmpfs: byteSize
    .default("256m")
    .describe("Largest tmpfs a mount may ask for; a tmpfs without a size gets this. Default: 256m."),
  maxStopGracePeriod: z
    .string()
    .default("60s")
    .describe("Longest stop_grace_period a service may ask for. Default: 60s."),
  overMaximum: z
    .enum(["clamp", "refuse"])
    .default("clamp")
    .describe(
      "What a value over maxReplicas, maxMemory, maxCpus, maxTmpfs or maxStopGracePeriod gets: `clamp` lowers it to the maximum with a warning (abra deploys the recipe, so a run does too), `refuse` makes it a problem. Default: clamp.",
    ),
  loggingDrivers: z
    .array(z.string().min(1))
    .default(["json-file", "local", "none"])
    .describe(
      "Logging drivers a recipe may choose (others could send logs off the host). Default: json-file, local, none.",
    ),
  disk: byteSize
    .default("4g")
    .describe(
      "Most disk a run's volumes and containers' writable layers may take, watched while it runs: over it the run stops, saying so, and is torn down. Default: 4g.",
    ),
  maxServices: z
    .number()
    .int()
    .positive()
    .default(20)
    .describe("Most services a recipe may declare. Default: 20."),
  maxTotalReplicas: z
    .number()
    .int()
    .positive()
    .default(24)
    .describe("Most replicas of all a recipe's services together. Default: 24."),
  minHealthcheckInterval: z
    .string()
    .default("1s")
    .describe(
      "Shortest healthcheck interval (and start interval) a service may ask for: dockerd runs each probe outside the task's limits. Default: 1s.",
    ),
  logMaxSize: byteSize
    .default("10m")
    .describe(
      "Largest log file of a task (json-file and local drivers, forced on every service: a recipe's larger max-size is lowered). Default: 10m.",
    ),
  logMaxFiles: z
    .number()
    .int()
    .positive()
    .default(3)
    .describe("Most log files kept per task (max-file, forced likewise). Default: 3."),
});
export type RunLimits = z.output<typeof RunLimits>;

/** The container a run's tests execute in (automation/commands/run/sandbox.ts). */
export const SandboxSettings = z.strictObject({
  image: z
    .string()
    .min(1)
    .default("cc-ci/sandbox:1")
    .describe(
      "Image of the test sandbox (a recipe may name another in .cc-ci/image). Default: cc-ci/sandbox:1.",
    ),
  timeout: z
    .number()
    .int()
    .positive()
    .default(900)
    .describe("Seconds the tests get before the sandbox is killed (exit 124). Default: 900."),
  memory: byteSize.default("1g").describe("Memory of the sandbox. Default: 1g."),
  cpus: z.number().positive().default(1).describe("CPUs of the sandbox. Default: 1."),
  pids: z.number().int().positive().default(512).describe("Most processes in the sandbox. Default: 512."),
  outputBytes: byteSize
    .default("2m")
    .describe(
      "Most of the tests' output relayed and kept: the first half as it comes, the last half at the end, how much was dropped between. Default: 2m.",
    ),
  outputLineBytes: byteSize
    .default("8k")
    .describe(
      "Longest line of the tests' output kept; the rest of a longer line is dropped and counted. Default: 8k.",
    ),
});
export type SandboxSettings = z.output<typeof SandboxSettings>;
