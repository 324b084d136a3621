/**
 * The shape of a loaded compose config as `ccci-compose load` returns it: Docker's own loader's
 * result (merged, interpolated, in canonical long forms), written with the compose key names. Only
 * what the plan reads is typed; everything else passes through (`loose`), and the rules see it too.
 */
import { z } from "zod";

const str = z.string();
const strMap = z.record(z.string(), z.string());

export const Mount = z
  .object({
    type: z.string(),
    source: str.optional(),
    target: str,
    read_only: z.boolean().optional(),
    bind: z.object({ propagation: str.optional() }).loose().optional(),
    volume: z.object({ nocopy: z.boolean().optional() }).loose().optional(),
    tmpfs: z.object({ size: z.number().optional(), mode: z.number().optional() }).loose().optional(),
  })
  .loose();
export type Mount = z.output<typeof Mount>;

export const FileRef = z
  .object({
    source: str,
    target: str.optional(),
    uid: str.optional(),
    gid: str.optional(),
    mode: z.number().optional(),
  })
  .loose();
export type FileRef = z.output<typeof FileRef>;

const Resources = z
  .object({ cpus: str.optional(), memory: z.number().optional(), pids: z.number().optional() })
  .loose();

export const Deploy = z
  .object({
    mode: str.optional(),
    replicas: z.number().optional(),
    labels: strMap.optional(),
    endpoint_mode: str.optional(),
    resources: z
      .object({ limits: Resources.optional(), reservations: Resources.optional() })
      .loose()
      .optional(),
    restart_policy: z
      .object({
        condition: str.optional(),
        delay: str.optional(),
        max_attempts: z.number().optional(),
        window: str.optional(),
      })
      .loose()
      .optional(),
    update_config: z
      .object({
        parallelism: z.number().optional(),
        delay: str.optional(),
        failure_action: str.optional(),
        monitor: str.optional(),
        max_failure_ratio: z.number().optional(),
        order: str.optional(),
      })
      .loose()
      .optional(),
    placement: z
      .object({
        constraints: z.array(str).optional(),
        preferences: z.array(z.object({ spread: str }).loose()).optional(),
        max_replicas_per_node: z.number().optional(),
      })
      .loose()
      .optional(),
  })
  .loose();

export const Service = z
  .object({
    image: str.optional(),
    command: z.array(str).optional(),
    entrypoint: z.array(str).optional(),
    environment: z.record(z.string(), z.string().nullable()).optional(),
    labels: strMap.optional(),
    deploy: Deploy.optional(),
    networks: z
      .record(
        z.string(),
        z
          .object({ aliases: z.array(str).optional() })
          .loose()
          .nullable(),
      )
      .optional(),
    volumes: z.array(Mount).optional(),
    secrets: z.array(FileRef).optional(),
    configs: z.array(FileRef).optional(),
    healthcheck: z
      .object({
        test: z.array(str).optional(),
        interval: str.optional(),
        timeout: str.optional(),
        retries: z.number().optional(),
        start_period: str.optional(),
        start_interval: str.optional(),
        disable: z.boolean().optional(),
      })
      .loose()
      .optional(),
    stop_grace_period: str.optional(),
    stop_signal: str.optional(),
    user: str.optional(),
    working_dir: str.optional(),
    hostname: str.optional(),
    extra_hosts: z.array(str).optional(),
    dns: z.array(str).optional(),
    init: z.boolean().optional(),
    read_only: z.boolean().optional(),
    sysctls: z.record(z.string(), z.union([str, z.number()])).optional(),
    cap_add: z.array(str).optional(),
    cap_drop: z.array(str).optional(),
    logging: z.object({ driver: str.optional(), options: strMap.optional() }).loose().optional(),
    ulimits: z
      .record(z.string(), z.union([z.number(), z.object({ soft: z.number(), hard: z.number() })]))
      .optional(),
  })
  .loose();
export type Service = z.output<typeof Service>;

const Top = z
  .object({
    external: z.boolean().optional(),
    name: str.optional(),
    driver: str.optional(),
    driver_opts: strMap.optional(),
    labels: strMap.optional(),
  })
  .loose();
export const Network = Top.extend({ internal: z.boolean().optional(), attachable: z.boolean().optional() });
export const Volume = Top;
export const FileObject = Top.extend({
  file: str.optional(),
  template_driver: str.optional(),
  environment: str.optional(),
  content: str.optional(),
});
export type FileObject = z.output<typeof FileObject>;

export const ComposeConfig = z
  .object({
    services: z.record(z.string(), Service),
    networks: z.record(z.string(), Network).optional(),
    volumes: z.record(z.string(), Volume).optional(),
    secrets: z.record(z.string(), FileObject).optional(),
    configs: z.record(z.string(), FileObject).optional(),
  })
  .loose();
export type ComposeConfig = z.output<typeof ComposeConfig>;
