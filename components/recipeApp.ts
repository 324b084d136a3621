/**
 * A loaded recipe's services, networks, volumes, secrets and configs on the swarm, every one named
 * with the run's prefix and labelled with its run id. Deployed once, with the run's values (and its
 * OIDC secrets) already in place.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { GeneratedSecret } from "../lib/generatedSecret";
import { hasPlaceholder, resolvePlaceholders } from "../lib/placeholders";
import type { ConfigSpec, RecipeModel, SecretSpec, ServiceSpec } from "../lib/recipe/model";
import { goDuration, optDuration } from "../lib/units";
import { CONVERGE, labelList, restartPolicy } from "./util";

export interface RecipeAppArgs {
  model: RecipeModel;
  /** Labels on every Docker object (the run's). */
  labels: Record<string, string>;
  /** Values of the run's secret variables, by name (see lib/placeholders.ts). */
  runSecrets: Record<string, pulumi.Input<string>>;
  /** Id of the shared proxy network the recipe's exposed services join (the model names it). */
  proxyNetworkId?: pulumi.Input<string>;
  provider: docker.Provider;
  /** Wait for every service to be running (and healthy) before `up` returns. Default: true. */
  waitForServices?: boolean;
  /** Seconds to wait for that before failing. Default: 600. */
  deployTimeout?: number;
  /** The operator's placement constraints on every service (run defaults' `placement`). */
  placement?: string[];
  /** Networks every service joins besides its own (the run's deps network), by id. */
  extraNetworkIds?: pulumi.Input<string>[];
}

export class RecipeApp extends pulumi.ComponentResource {
  public readonly services: Record<string, docker.Service> = {};
  /** Generated values of the recipe's secrets (for checks that need, e.g., a database password). */
  public readonly secretValues: Record<string, pulumi.Output<string>> = {};

  constructor(name: string, args: RecipeAppArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:run:RecipeApp", name, {}, opts);
    const { model, labels, provider } = args;
    const child = { parent: this, provider };
    const labelArgs = labelList(labels);

    const networks = new Map<string, docker.Network>();
    for (const n of model.networks) {
      networks.set(
        n.name,
        new docker.Network(
          `${name}-net-${n.key}`,
          {
            name: n.name,
            driver: "overlay",
            attachable: true,
            internal: n.internal,
            options: n.driverOpts,
            labels: labelArgs,
          },
          child,
        ),
      );
    }
    const volumes = new Map<string, docker.Volume>();
    for (const v of model.volumes) {
      volumes.set(
        v.key,
        new docker.Volume(
          `${name}-vol-${v.key}`,
          { name: v.name, driver: v.driver, driverOpts: v.driverOpts, labels: labelArgs },
          child,
        ),
      );
    }
    const secrets = new Map<string, docker.Secret>();
    for (const s of model.secrets) {
      const value = this.secretValue(name, s, args.runSecrets);
      this.secretValues[s.key] = value;
      secrets.set(
        s.key,
        new docker.Secret(
          // Named by the Docker name too: a bumped version is another secret beside the old one, as
          // abra makes it (an in-place replacement would delete one a service still uses).
          `${name}-secret-${s.key}-${s.name}`,
          {
            name: s.name,
            data: pulumi.secret(value.apply((v) => Buffer.from(v).toString("base64"))),
            labels: labelArgs,
          },
          child,
        ),
      );
    }
    const configs = new Map<string, docker.ServiceConfig>();
    for (const c of model.configs) {
      configs.set(
        c.key,
        new docker.ServiceConfig(
          // By the Docker name too, as secrets: a version bump adds a config and drops the old after.
          `${name}-config-${c.key}-${c.name}`,
          { name: c.name, data: configData(c, this.secretValues, args.runSecrets), labels: labelArgs },
          child,
        ),
      );
    }
    const networkIds = new Map<string, pulumi.Input<string>>([...networks].map(([n, net]) => [n, net.id]));
    if (args.proxyNetworkId) networkIds.set(model.proxyNetwork, args.proxyNetworkId);
    for (const svc of model.services) {
      const deps: pulumi.Resource[] = [
        ...svc.networks
          .map((n) => networks.get(n.network))
          .filter((x): x is docker.Network => x !== undefined),
        ...svc.mounts
          .map((m) => (m.type === "volume" ? volumes.get(m.source as string) : undefined))
          .filter((x): x is docker.Volume => x !== undefined),
      ];
      this.services[svc.key] = new docker.Service(
        `${name}-svc-${svc.key}`,
        serviceArgs(svc, {
          placement: args.placement ?? [],
          volumes,
          volumeOptions: new Map(
            model.volumes.map((v) => [
              v.key,
              {
                labels: labelArgs,
                ...(v.driver ? { driverName: v.driver } : {}),
                ...(v.driverOpts ? { driverOptions: v.driverOpts } : {}),
              },
            ]),
          ),
          secrets,
          configs,
          runSecrets: args.runSecrets,
          wait: args.waitForServices ?? true,
          timeout: args.deployTimeout ?? 600,
          networkIds,
          extraNetworkIds: args.extraNetworkIds ?? [],
        }),
        { ...child, dependsOn: deps },
      );
    }
    this.registerOutputs({ services: Object.keys(this.services) });
  }

  private secretValue(
    name: string,
    s: SecretSpec,
    runSecrets: Record<string, pulumi.Input<string>>,
  ): pulumi.Output<string> {
    switch (s.source.kind) {
      case "generate":
        return new GeneratedSecret(
          // A bumped version generates a new value; an unchanged one keeps it (abra's rule).
          `${name}-value-${s.key}-${s.name}`,
          { length: s.source.length, charset: s.source.alphabet, words: s.source.passphrase },
          { parent: this },
        ).value;
      case "file":
        return pulumi.secret(s.source.content);
      case "run": {
        const v = runSecrets[s.source.variable];
        if (v === undefined) throw new Error(`secret ${s.key}: no run value ${s.source.variable}`);
        return pulumi.secret(pulumi.output(v));
      }
    }
  }
}

/**
 * A config's content: rendered text, the recipe's secrets where the template named them, and the run's
 * secret values (OIDC client secret, test password) where the text carries their placeholders. A
 * config holding any secret is a Pulumi secret.
 */
export function configData(
  c: ConfigSpec,
  secretValues: Record<string, pulumi.Output<string>>,
  runSecrets: Record<string, pulumi.Input<string>>,
): pulumi.Input<string> {
  const sensitive = c.sensitive || c.parts.some((p) => typeof p === "string" && hasPlaceholder(p));
  if (!sensitive) return Buffer.from(c.parts.join("")).toString("base64");
  const values = c.parts.map((p) =>
    typeof p === "string" ? pulumi.output(resolvePlaceholders(p, runSecrets)) : secretValues[p.secret],
  );
  return pulumi.secret(pulumi.all(values).apply((vs) => Buffer.from(vs.join("")).toString("base64")));
}

interface Refs {
  /** The operator's constraints, after the recipe's own. */
  placement?: string[];
  volumes: Map<string, docker.Volume>;
  /**
   * How a node that has no such volume yet creates it (`docker stack deploy` does the same): the
   * run's labels, the recipe's driver. Pulumi makes each volume on the manager; a task placed on
   * another node gets its own there, which must carry the run's label to be found and removed.
   */
  volumeOptions?: Map<string, docker.types.input.ServiceTaskSpecContainerSpecMountVolumeOptions>;
  secrets: Map<string, docker.Secret>;
  configs: Map<string, docker.ServiceConfig>;
  runSecrets: Record<string, pulumi.Input<string>>;
  /** Network name → id: the provider reads ids back, so names would show as drift. */
  networkIds: Map<string, pulumi.Input<string>>;
  /** Networks the service joins without an alias (the run's deps network). */
  extraNetworkIds?: pulumi.Input<string>[];
  wait: boolean;
  timeout: number;
}

export function serviceArgs(svc: ServiceSpec, refs: Refs): docker.ServiceArgs {
  const env: Record<string, pulumi.Input<string>> = {};
  for (const [k, v] of Object.entries(svc.env)) env[k] = resolvePlaceholders(v, refs.runSecrets);
  const mounts: docker.types.input.ServiceTaskSpecContainerSpecMount[] = svc.mounts.map((m) => ({
    type: m.type,
    target: m.target,
    readOnly: m.readOnly,
    source: m.type === "volume" ? refs.volumes.get(m.source as string)?.name : m.source,
    ...(m.type === "volume" && (m.noCopy || refs.volumeOptions?.has(m.source as string))
      ? {
          volumeOptions: {
            ...refs.volumeOptions?.get(m.source as string),
            ...(m.noCopy ? { noCopy: true } : {}),
          },
        }
      : {}),
    ...(m.type === "tmpfs" && m.tmpfsSizeBytes !== undefined
      ? { tmpfsOptions: { sizeBytes: m.tmpfsSizeBytes } }
      : {}),
  }));
  const fileRef = (r: { uid?: string; gid?: string; mode?: number }) => ({
    ...(r.uid !== undefined ? { fileUid: r.uid } : {}),
    ...(r.gid !== undefined ? { fileGid: r.gid } : {}),
    ...(r.mode !== undefined ? { fileMode: r.mode } : {}),
  });
  const r = svc.resources;
  return {
    name: svc.name,
    labels: labelList(svc.labels),
    mode: svc.mode === "global" ? { global: true } : { replicated: { replicas: svc.mode.replicas } },
    taskSpec: {
      containerSpec: {
        image: svc.image,
        ...(svc.entrypoint ? { commands: svc.entrypoint } : {}),
        ...(svc.command ? { args: svc.command } : {}),
        env,
        labels: labelList(svc.containerLabels),
        mounts,
        secrets: svc.secrets.map((s) => {
          const sec = refs.secrets.get(s.key) as docker.Secret;
          return { secretId: sec.id, secretName: sec.name, fileName: s.target, ...fileRef(s) };
        }),
        configs: svc.configs.map((c) => {
          const cfg = refs.configs.get(c.key) as docker.ServiceConfig;
          return { configId: cfg.id, configName: cfg.name, fileName: c.target, ...fileRef(c) };
        }),
        healthcheck: svc.healthcheck && {
          tests: svc.healthcheck.test,
          interval: optDuration(svc.healthcheck.interval),
          timeout: optDuration(svc.healthcheck.timeout),
          startPeriod: optDuration(svc.healthcheck.startPeriod),
          retries: svc.healthcheck.retries,
        },
        stopGracePeriod: optDuration(svc.stopGracePeriod),
        stopSignal: svc.stopSignal,
        user: svc.user,
        dir: svc.workingDir,
        hostname: svc.hostname,
        hosts: svc.hosts,
        dnsConfig: svc.dns.length > 0 ? { nameservers: svc.dns } : undefined,
        init: svc.init,
        readOnly: svc.readOnly,
        capDrops: svc.capDrop.length > 0 ? svc.capDrop : undefined,
        capAdds: svc.capAdd.length > 0 ? svc.capAdd : undefined,
        sysctl: Object.keys(svc.sysctls).length > 0 ? svc.sysctls : undefined,
      },
      networksAdvanceds: [
        ...svc.networks.map((n) => ({
          id: refs.networkIds.get(n.network) ?? n.network,
          ...(n.aliases.length > 0 ? { aliases: n.aliases } : {}),
        })),
        ...(refs.extraNetworkIds ?? []).map((id) => ({ id })),
      ],
      placement: {
        constraints: [...svc.placement.constraints, ...(refs.placement ?? [])],
        prefs: svc.placement.prefs,
        ...(svc.placement.maxReplicas !== undefined ? { maxReplicas: svc.placement.maxReplicas } : {}),
      },
      resources: r && {
        limits: r.limits,
        reservation: r.reservations,
      },
      restartPolicy: svc.restartPolicy && restartPolicy(svc.restartPolicy),
      logDriver: svc.logging && { name: svc.logging.driver, options: svc.logging.options },
    },
    updateConfig: svc.updateConfig && {
      ...svc.updateConfig,
      delay: optDuration(svc.updateConfig.delay),
      monitor: optDuration(svc.updateConfig.monitor),
    },
    endpointSpec: { mode: "dnsrr" },
    ...(refs.wait ? { convergeConfig: { ...CONVERGE, timeout: goDuration(`${refs.timeout}s`) } } : {}),
  };
}
