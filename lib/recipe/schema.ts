/**
 * The compose keys a recipe may use, as zod schemas. Lenient where Compose is (strings or numbers,
 * lists or mappings), strict where a wrong type would deploy something else than the author meant.
 * Keys not listed here are reported by the loader (kept, ignored with a warning, or refused).
 */
import { z } from "zod";

const str = z.union([z.string(), z.number()]).transform(String);
const strOrList = z.union([z.string(), z.array(str)]);
export const duration = z
  .union([z.string(), z.number()])
  .transform(String)
  .refine((s) => /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s) || /^\d+$/.test(s), {
    message: "must be a duration such as 30s or 1m30s",
  });
const keyValues = z.union([
  z.array(str),
  z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
]);
const mode = z.union([z.number().int(), z.string().regex(/^0?[0-7]{3,4}$/)]);

const Mount = z.strictObject({
  type: z.enum(["volume", "bind", "tmpfs", "npipe", "cluster"]),
  source: z.string().optional(),
  target: z.string().min(1),
  read_only: z.boolean().optional(),
  consistency: z.string().optional(),
  bind: z.object({ propagation: z.string().optional(), create_host_path: z.boolean().optional() }).optional(),
  volume: z.object({ nocopy: z.boolean().optional() }).optional(),
  tmpfs: z.object({ size: z.union([z.string(), z.number()]).optional(), mode: mode.optional() }).optional(),
});
const FileRef = z.union([
  z.string(),
  z.strictObject({
    source: z.string(),
    target: z.string().optional(),
    uid: str.optional(),
    gid: str.optional(),
    mode: mode.optional(),
  }),
]);
const Healthcheck = z.strictObject({
  test: z.union([z.string(), z.array(z.string())]).optional(),
  interval: duration.optional(),
  timeout: duration.optional(),
  retries: z.number().int().nonnegative().optional(),
  start_period: duration.optional(),
  start_interval: duration.optional(),
  disable: z.boolean().optional(),
});
const Resources = z.object({
  cpus: str.optional(),
  memory: str.optional(),
  pids: z.number().optional(),
});
const Deploy = z.strictObject({
  mode: z.enum(["replicated", "global"]).optional(),
  replicas: z.number().int().nonnegative().optional(),
  labels: keyValues.optional(),
  endpoint_mode: z.enum(["vip", "dnsrr"]).optional(),
  resources: z.object({ limits: Resources.optional(), reservations: Resources.optional() }).optional(),
  restart_policy: z
    .strictObject({
      condition: z.enum(["none", "on-failure", "any"]).optional(),
      delay: duration.optional(),
      max_attempts: z.number().int().nonnegative().optional(),
      window: duration.optional(),
    })
    .optional(),
  update_config: z
    .strictObject({
      parallelism: z.number().int().nonnegative().optional(),
      delay: duration.optional(),
      failure_action: z.enum(["continue", "rollback", "pause"]).optional(),
      monitor: duration.optional(),
      max_failure_ratio: z.number().optional(),
      order: z.enum(["stop-first", "start-first"]).optional(),
    })
    .optional(),
  rollback_config: z.record(z.string(), z.unknown()).optional(),
  placement: z
    .strictObject({
      constraints: z.array(z.string()).optional(),
      preferences: z.array(z.object({ spread: z.string() })).optional(),
      max_replicas_per_node: z.number().int().positive().optional(),
    })
    .optional(),
});
const ServiceNetworks = z.union([
  z.array(z.string()),
  z.record(
    z.string(),
    z.union([
      z.null(),
      z.object({ aliases: z.array(z.string()).optional(), ipv4_address: z.string().optional() }).loose(),
    ]),
  ),
]);

/** Service keys the loader understands. Security-relevant ones are checked against the policy. */
export const Service = z
  .object({
    image: z.string(),
    command: strOrList.optional(),
    entrypoint: strOrList.optional(),
    environment: keyValues.optional(),
    env_file: z
      .union([z.string(), z.array(z.union([z.string(), z.object({ path: z.string() }).loose()]))])
      .optional(),
    labels: keyValues.optional(),
    deploy: Deploy.optional(),
    networks: ServiceNetworks.optional(),
    volumes: z.array(z.union([z.string(), Mount])).optional(),
    tmpfs: strOrList.optional(),
    secrets: z.array(FileRef).optional(),
    configs: z.array(FileRef).optional(),
    healthcheck: Healthcheck.optional(),
    stop_grace_period: duration.optional(),
    stop_signal: z.string().optional(),
    user: str.optional(),
    working_dir: z.string().optional(),
    hostname: z.string().optional(),
    extra_hosts: keyValues.optional(),
    dns: strOrList.optional(),
    init: z.boolean().optional(),
    read_only: z.boolean().optional(),
    sysctls: keyValues.optional(),
    cap_add: z.array(z.string()).optional(),
    cap_drop: z.array(z.string()).optional(),
    logging: z
      .object({ driver: z.string().optional(), options: z.record(z.string(), str).optional() })
      .optional(),
    depends_on: z.union([z.array(z.string()), z.record(z.string(), z.unknown())]).optional(),
    // Security-relevant keys: parsed so the loader can refuse them by name.
    privileged: z.boolean().optional(),
    network_mode: z.string().optional(),
    pid: z.string().optional(),
    ipc: z.string().optional(),
    userns_mode: z.string().optional(),
    devices: z.array(z.unknown()).optional(),
    security_opt: z.array(z.string()).optional(),
  })
  .loose();
export type Service = z.output<typeof Service>;

export const TopNetwork = z
  .union([
    z.null(),
    z
      .object({
        external: z.union([z.boolean(), z.object({ name: z.string() })]).optional(),
        name: z.string().optional(),
        driver: z.string().optional(),
        internal: z.boolean().optional(),
        attachable: z.boolean().optional(),
        driver_opts: z.record(z.string(), str).optional(),
        labels: keyValues.optional(),
      })
      .loose(),
  ])
  .transform((v) => v ?? {});
export const TopVolume = z
  .union([
    z.null(),
    z
      .object({
        external: z.union([z.boolean(), z.object({ name: z.string() })]).optional(),
        name: z.string().optional(),
        driver: z.string().optional(),
        driver_opts: z.record(z.string(), str).optional(),
        labels: keyValues.optional(),
      })
      .loose(),
  ])
  .transform((v) => v ?? {});
export const TopFile = z
  .object({
    external: z.union([z.boolean(), z.object({ name: z.string() })]).optional(),
    name: z.string().optional(),
    file: z.string().optional(),
    template_driver: z.string().optional(),
    environment: z.string().optional(),
    content: z.string().optional(),
    labels: keyValues.optional(),
  })
  .loose();

const serviceName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, { message: "invalid service name" });

export const ComposeFile = z
  .object({
    version: str.optional(),
    services: z.record(serviceName, Service).refine((s) => Object.keys(s).length > 0, {
      message: "declares no service",
    }),
    networks: z.record(z.string(), TopNetwork).optional(),
    volumes: z.record(z.string(), TopVolume).optional(),
    secrets: z.record(z.string(), TopFile).optional(),
    configs: z.record(z.string(), TopFile).optional(),
  })
  .loose();
export type ComposeFile = z.output<typeof ComposeFile>;

export const KNOWN_SERVICE_KEYS = new Set(Object.keys(Service.shape));
/** Keys `docker stack deploy` ignores too: dropped with a warning. */
export const IGNORED_SERVICE_KEYS = new Set([
  "build",
  "container_name",
  "restart",
  "links",
  "expose",
  "ports",
  "profiles",
  "platform",
  "shm_size",
  "ulimits",
  "mem_limit",
  "cpus",
  "domainname",
  "external_links",
  "stdin_open",
  "tty",
  "pull_policy",
  "scale",
]);
