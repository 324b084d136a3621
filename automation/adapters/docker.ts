/**
 * What really exists in the swarm, through the Docker API (dockerode): every object carrying a run
 * label, so runs can verify their teardown and audits can find residue no state remembers.
 */
import Docker from "dockerode";
import { LABELS } from "../../lib/naming";

export type DockerKind = "service" | "container" | "network" | "volume" | "secret" | "config";

export interface DockerObject {
  kind: DockerKind;
  id: string;
  name: string;
  runId: string;
  /** The state backend the run belongs to (LABELS.owner), when labelled. */
  owner?: string;
  recipe?: string;
  stack?: string;
  createdAt?: string;
  /** For containers and volumes on another swarm node than the one cc-ci talks to: its hostname. */
  node?: string;
}

export function dockerClient(host = process.env.DOCKER_HOST): Docker {
  if (!host || host.startsWith("unix://"))
    return new Docker({ socketPath: host ? host.slice("unix://".length) : "/var/run/docker.sock" });
  const u = new URL(host);
  return new Docker({ host: u.hostname, port: Number(u.port) });
}

type Labelled = { Labels?: Record<string, string> | null };

function fromLabels(
  kind: DockerKind,
  id: string,
  name: string,
  labels: Record<string, string> | null | undefined,
  createdAt?: string,
): DockerObject {
  const runId = labels?.[LABELS.run] ?? "";
  return {
    kind,
    id,
    name,
    runId,
    owner: labels?.[LABELS.owner],
    recipe: labels?.[LABELS.recipe],
    stack: labels?.[LABELS.stack],
    createdAt,
  };
}

/**
 * Every Docker object with a run label (of one run, when `runId` is given). With `namePrefix`, also
 * the objects named with the run's prefix that lack the label (made outside the program, or by a
 * version that did not label them), so a run's residue check sees every kind it could leave.
 */
export async function runObjects(
  docker: Docker,
  runId?: string,
  namePrefix?: string,
  kinds?: ReadonlySet<DockerKind>,
): Promise<DockerObject[]> {
  const labelled = await labelledObjects(docker, runId ? `${LABELS.run}=${runId}` : LABELS.run, kinds);
  if (!namePrefix) return labelled;
  const seen = new Set(labelled.map((o) => `${o.kind}:${o.id}`));
  const named = (await namedObjects(docker, namePrefix, kinds)).filter((o) => !seen.has(`${o.kind}:${o.id}`));
  return [...labelled, ...named.map((o) => ({ ...o, runId: runId ?? o.runId }))];
}

/** The label on a swarm node that names its engine's API, so cc-ci reaches what lives on that node. */
export const NODE_ENGINE_LABEL = "cc-ci.engine";

export interface NodeEngine {
  /** The node's hostname. */
  node: string;
  id: string;
  docker: Docker;
}

export interface Engines {
  /** Engines of the other nodes that answer. */
  others: NodeEngine[];
  /** Nodes that name an engine that does not answer, or that the swarm says are down. */
  unreachable: { node: string; id: string; state: string }[];
}

const engineCache = new WeakMap<Docker, { at: number; engines: Promise<Engines> }>();

/**
 * The other swarm nodes' engines (each node names its own with the label cc-ci.engine: a unix
 * socket, or tcp://host:port), read from the manager `docker` is; cached for a few seconds, as
 * verify and the audit poll. On a single engine, or one that is no manager, there are none.
 */
export function nodeEngines(docker: Docker): Promise<Engines> {
  const hit = engineCache.get(docker);
  if (hit && Date.now() - hit.at < 5000) return hit.engines;
  const engines = (async (): Promise<Engines> => {
    const info = (await docker.info()) as { Swarm?: { NodeID?: string; ControlAvailable?: boolean } };
    if (!info.Swarm?.ControlAvailable) return { others: [], unreachable: [] };
    const out: Engines = { others: [], unreachable: [] };
    await Promise.all(
      (await docker.listNodes()).map(async (n) => {
        const id = n.ID ?? "";
        const node = n.Description?.Hostname ?? id;
        const engine = n.Spec?.Labels?.[NODE_ENGINE_LABEL];
        const state = n.Status?.State ?? "unknown";
        if (id === info.Swarm?.NodeID) return;
        if (!engine) {
          if (state !== "ready") out.unreachable.push({ node, id, state });
          return;
        }
        const d = dockerClient(engine);
        const answers = await Promise.race([
          d.ping().then(
            () => true,
            () => false,
          ),
          new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref()),
        ]);
        if (answers) out.others.push({ node, id, docker: d });
        else out.unreachable.push({ node, id, state: state === "ready" ? "engine not answering" : state });
      }),
    );
    return out;
  })();
  engineCache.set(docker, { at: Date.now(), engines });
  engines.catch(() => engineCache.delete(docker));
  return engines;
}

/** The engine that holds `o`: its node's, for containers and volumes of another node; else `docker`. */
async function engineOf(docker: Docker, o: DockerObject): Promise<Docker> {
  if (!o.node || (o.kind !== "container" && o.kind !== "volume")) return docker;
  const e = (await nodeEngines(docker)).others.find((x) => x.node === o.node);
  if (!e) throw new Error(`node ${o.node} does not answer`);
  return e.docker;
}

/**
 * Every Docker object of every kind that Docker's list `filters` select: the swarm's (services,
 * networks, secrets, configs) from the manager, containers and volumes from every node's engine.
 */
/** Every kind of Docker object a run can leave. */
export const ALL_KINDS: ReadonlySet<DockerKind> = new Set<DockerKind>([
  "service",
  "container",
  "network",
  "volume",
  "secret",
  "config",
]);

/** The objects matching `filters`, of `kinds` only (one API call per kind and engine, none for the rest). */
async function listObjects(
  docker: Docker,
  filters: Record<string, string[]>,
  kinds: ReadonlySet<DockerKind> = ALL_KINDS,
): Promise<DockerObject[]> {
  const f = JSON.stringify(filters);
  const { others } = await nodeEngines(docker).catch(() => ({ others: [] as NodeEngine[] }));
  const remote = await Promise.all(
    others.map(async (e) => {
      try {
        const [containers, volumes] = await Promise.all([
          kinds.has("container") ? e.docker.listContainers({ all: true, filters: f }) : [],
          kinds.has("volume") ? e.docker.listVolumes({ filters: f }) : { Volumes: [] },
        ]);
        return [
          ...containers.map((c) => ({
            ...fromLabels(
              "container",
              c.Id,
              (c.Names?.[0] ?? c.Id).replace(/^\//, ""),
              c.Labels,
              new Date(c.Created * 1000).toISOString(),
            ),
            node: e.node,
          })),
          ...(volumes.Volumes ?? []).map((v) => ({
            ...fromLabels("volume", v.Name, v.Name, v.Labels, (v as { CreatedAt?: string }).CreatedAt),
            node: e.node,
          })),
        ];
      } catch {
        return []; // went away since it was found: the next listing reports it unreachable
      }
    }),
  );
  return [...(await localObjects(docker, f, kinds)), ...remote.flat()];
}

async function localObjects(
  docker: Docker,
  f: string,
  kinds: ReadonlySet<DockerKind>,
): Promise<DockerObject[]> {
  const [services, containers, networks, volumes, secrets, configs] = await Promise.all([
    kinds.has("service") ? docker.listServices({ filters: f }) : [],
    kinds.has("container") ? docker.listContainers({ all: true, filters: f }) : [],
    kinds.has("network") ? docker.listNetworks({ filters: f }) : [],
    kinds.has("volume") ? docker.listVolumes({ filters: f }) : { Volumes: [] },
    kinds.has("secret") ? docker.listSecrets({ filters: f }) : [],
    kinds.has("config") ? docker.listConfigs({ filters: f }) : [],
  ]);
  return [
    ...services.map((s) => fromLabels("service", s.ID, s.Spec?.Name ?? s.ID, s.Spec?.Labels, s.CreatedAt)),
    ...containers.map((c) =>
      fromLabels(
        "container",
        c.Id,
        (c.Names?.[0] ?? c.Id).replace(/^\//, ""),
        c.Labels,
        new Date(c.Created * 1000).toISOString(),
      ),
    ),
    ...networks.map((n) => fromLabels("network", n.Id, n.Name, n.Labels, n.Created)),
    ...(volumes.Volumes ?? []).map((v) =>
      fromLabels("volume", v.Name, v.Name, v.Labels, (v as { CreatedAt?: string }).CreatedAt),
    ),
    ...secrets.map((s) =>
      fromLabels("secret", s.ID, s.Spec?.Name ?? s.ID, (s.Spec as Labelled)?.Labels, s.CreatedAt),
    ),
    ...configs.map((c) =>
      fromLabels("config", c.ID, c.Spec?.Name ?? c.ID, (c.Spec as Labelled)?.Labels, c.CreatedAt),
    ),
  ];
}

/** Every Docker object whose name starts with `prefix` (Docker's name filter matches substrings; kept exact here). */
export async function namedObjects(
  docker: Docker,
  prefix: string,
  kinds?: ReadonlySet<DockerKind>,
): Promise<DockerObject[]> {
  // A service's task containers are named <service>.<slot>.<task id>, so they start with the prefix too.
  return (await listObjects(docker, { name: [prefix] }, kinds)).filter((o) => o.name.startsWith(prefix));
}

/** Every Docker object carrying `label` (`key` or `key=value`); runId is "" on objects of no run. */
export async function labelledObjects(
  docker: Docker,
  label: string,
  kinds?: ReadonlySet<DockerKind>,
): Promise<DockerObject[]> {
  return listObjects(docker, { label: [label] }, kinds);
}

/**
 * Lists `objects()` every 200 ms until none is left or `waitMs` has passed; returns what is left.
 * (Docker finishes removals a moment after it answers: tasks stop, swarm networks go.) Between the
 * first and the last look, which list every kind, only the kinds still there are listed again (a
 * network swarm is still removing costs one call per poll, not a dozen).
 */
export async function untilGone(
  objects: (kinds?: ReadonlySet<DockerKind>) => Promise<DockerObject[]>,
  waitMs: number,
): Promise<DockerObject[]> {
  const deadline = Date.now() + waitMs;
  let left = await objects();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    left = await objects(new Set(left.map((o) => o.kind)));
    if (left.length === 0) left = await objects();
  }
  return left;
}

/** Removes objects in dependency order (services before what they use). Returns what failed. */
export async function removeObjects(
  docker: Docker,
  objects: DockerObject[],
): Promise<{ object: DockerObject; error: string }[]> {
  const order: DockerKind[] = ["service", "container", "secret", "config", "network", "volume"];
  const failed: { object: DockerObject; error: string }[] = [];
  for (const kind of order) {
    for (const o of objects.filter((x) => x.kind === kind)) {
      try {
        const d = await engineOf(docker, o);
        switch (kind) {
          case "service":
            await docker.getService(o.id).remove();
            break;
          case "container":
            await d.getContainer(o.id).remove({ force: true, v: true });
            break;
          case "secret":
            await docker.getSecret(o.id).remove();
            break;
          case "config":
            await docker.getConfig(o.id).remove();
            break;
          case "network":
            await docker.getNetwork(o.id).remove();
            break;
          case "volume":
            await removeVolume(d, o.id);
            break;
        }
      } catch (e) {
        if (!isGone(e)) failed.push({ object: o, error: (e as Error).message });
      }
    }
  }
  return failed;
}

/**
 * Whether a removal failed because the object is already gone: a 404, or — for a swarm network whose
 * removal was already under way — a 500 saying "not found".
 */
export function isGone(e: unknown): boolean {
  const status = (e as { statusCode?: number }).statusCode;
  return status === 404 || (status === 500 && /\bnot found\b/i.test((e as Error).message ?? ""));
}

/** A service's tasks take a moment to let go of their volumes; retry for a while. */
async function removeVolume(docker: Docker, name: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await docker.getVolume(name).remove();
      return;
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 409 || attempt >= 30) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/**
 * Who uses a network: the services whose tasks join it and the containers attached to it (on this
 * node), by name — leaving out those `except` names (the proxy itself).
 */
export async function networkUsers(
  docker: Docker,
  network: string,
  except: (name: string) => boolean,
): Promise<string[]> {
  let id: string;
  let containers: Record<string, { Name?: string }>;
  try {
    const info = (await docker.getNetwork(network).inspect()) as {
      Id: string;
      Containers?: Record<string, { Name?: string }>;
    };
    id = info.Id;
    containers = info.Containers ?? {};
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return [];
    throw e;
  }
  const services = (await docker.listServices()).filter((s) =>
    (s.Spec?.TaskTemplate as { Networks?: { Target?: string }[] } | undefined)?.Networks?.some(
      (n) => n.Target === id || n.Target === network,
    ),
  );
  const names = [
    ...services.map((s) => s.Spec?.Name ?? s.ID),
    ...Object.values(containers).map((c) => c.Name ?? ""),
  ].filter((n) => n !== "" && !n.endsWith("-endpoint") && !except(n));
  return [...new Set(names)];
}

/**
 * A warm layer's admin gateways that are not running. They are plain containers Docker does not
 * restart (components/adminGateway.ts says why), so a Docker restart leaves them stopped.
 */
export async function stoppedGateways(
  docker: Docker,
  prefix: string,
): Promise<{ id: string; name: string }[]> {
  const all = await docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.gateway}=true`, `${LABELS.stackNamespace}=${prefix}`] },
  });
  return all
    .filter((c) => c.State !== "running")
    .map((c) => ({ id: c.Id, name: (c.Names?.[0] ?? c.Id).replace(/^\//, "") }));
}

/**
 * Starts a warm layer's stopped admin gateways (the swarm is up by now, so their networks are
 * there). Returns the names started; a gateway that will not start is named with Docker's reason.
 */
export async function startGateways(docker: Docker, prefix: string): Promise<string[]> {
  const stopped = await stoppedGateways(docker, prefix);
  const failed: string[] = [];
  for (const g of stopped) {
    await docker
      .getContainer(g.id)
      .start()
      .catch((e: Error & { statusCode?: number }) => {
        // 304: started meanwhile (by another `warm up`).
        if (e.statusCode !== 304) failed.push(`${g.name}: ${e.message.split("\n")[0]}`);
      });
  }
  if (failed.length > 0) throw new Error(`could not start the warm layer's gateways: ${failed.join("; ")}`);
  return stopped.map((g) => g.name);
}

/**
 * What holds a swarm network a removal was refused for, when Docker names a task no service or
 * container has: a stale attachment Docker left when a container failed to start on that network
 * (moby/moby#31068), which nothing but a restart of dockerd releases. Undefined otherwise.
 */
export async function staleAttachment(docker: Docker, message: string): Promise<string | undefined> {
  const m = /network (\w+) is in use by task (\w+)/.exec(message);
  if (!m) return undefined;
  const [, network, task] = m;
  const info = (await docker
    .getTask(task)
    .inspect()
    .catch((e: { statusCode?: number }) => {
      if (e.statusCode === 404) return null;
      throw e;
    })) as { ServiceID?: string; Spec?: { NetworkAttachmentSpec?: { ContainerID?: string } } } | null;
  if (info !== null) {
    // Listed: stale only when it is a container's attachment and that container is gone.
    const container = info.Spec?.NetworkAttachmentSpec?.ContainerID;
    if (info.ServiceID || !container) return undefined;
    const exists = await docker
      .getContainer(container)
      .inspect()
      .then(
        () => true,
        (e: { statusCode?: number }) => e.statusCode !== 404,
      );
    if (exists) return undefined;
  }
  return `network ${network} is held by task ${task}, which no service or container has: a stale swarm attachment Docker leaves when a container fails to start on the network (moby/moby#31068); restarting dockerd releases it (scripts/env/docker.sh --restart)`;
}

/** The address containers reach the host at (docker_gwbridge's gateway): where Traefik's host ports answer them. */
export async function hostAddressForContainers(docker: Docker): Promise<string> {
  try {
    const info = (await docker.getNetwork("docker_gwbridge").inspect()) as {
      IPAM?: { Config?: { Gateway?: string }[] };
    };
    return info.IPAM?.Config?.[0]?.Gateway ?? "172.18.0.1";
  } catch {
    return "172.18.0.1";
  }
}

/**
 * Once the stack is destroyed, the run's task containers that the swarm has yet to reap (that takes
 * it seconds) are removed at once, as the provider does for services with a stop grace period. Only
 * when no service of the run is left: a service that is still there would start them again, and is
 * what verify must report.
 */
export async function sweepTaskContainers(runId: string, docker = dockerClient()): Promise<number> {
  const filters = JSON.stringify({ label: [`${LABELS.run}=${runId}`] });
  if ((await docker.listServices({ filters })).length > 0) return 0;
  const { others } = await nodeEngines(docker).catch(() => ({ others: [] as NodeEngine[] }));
  let removed = 0;
  await Promise.all(
    [docker, ...others.map((e) => e.docker)].map(async (d) => {
      const containers = (await d.listContainers({ all: true, filters }).catch(() => [])).filter(
        (c) => c.Labels?.["com.docker.swarm.task.id"] !== undefined,
      );
      removed += containers.length;
      await Promise.all(
        containers.map((c) =>
          d
            .getContainer(c.Id)
            .remove({ force: true, v: true })
            .catch(() => undefined),
        ),
      );
    }),
  );
  return removed;
}

/**
 * Sweeps the run's task containers every `everyMs` while `going()` (a run's destroy): once none of
 * its services is left, what swarm's agent would remove seconds later is removed at once, so the
 * deletes of the run's volumes and networks, which wait until no container holds them, go on.
 */
export async function sweepWhile(runId: string, going: () => boolean, everyMs = 250): Promise<void> {
  while (going()) {
    await new Promise((r) => setTimeout(r, everyMs));
    if (going()) await sweepTaskContainers(runId).catch(() => 0);
  }
}

/**
 * The run's volumes on the other nodes: a task placed there made its own (the stack's volumes are
 * the manager's, removed with the stack). Run after its services and task containers are gone.
 */
export async function sweepNodeVolumes(runId: string, docker = dockerClient()): Promise<string[]> {
  const filters = JSON.stringify({ label: [`${LABELS.run}=${runId}`] });
  const { others } = await nodeEngines(docker).catch(() => ({ others: [] as NodeEngine[] }));
  const failed: string[] = [];
  await Promise.all(
    others.map(async (e) => {
      const volumes = (await e.docker.listVolumes({ filters }).catch(() => ({ Volumes: [] }))).Volumes ?? [];
      for (const v of volumes)
        await removeVolume(e.docker, v.Name).catch((err: Error) => {
          if (!isGone(err)) failed.push(`volume ${v.Name} on ${e.node}: ${err.message}`);
        });
    }),
  );
  return failed;
}

/**
 * Nodes whose containers and volumes cannot be seen now (engine not answering, or down in the
 * swarm), each with the run services the swarm last placed there: what may sit on them.
 */
export async function unreachableNodes(
  docker: Docker,
): Promise<{ node: string; state: string; services: string[] }[]> {
  const { unreachable } = await nodeEngines(docker).catch(() => ({
    unreachable: [] as Engines["unreachable"],
  }));
  return Promise.all(
    unreachable.map(async (n) => {
      const tasks = await docker
        .listTasks({ filters: JSON.stringify({ node: [n.id] }) })
        .catch(
          () =>
            [] as { ServiceID?: string; Spec?: { ContainerSpec?: { Labels?: Record<string, string> } } }[],
        );
      const services = new Set<string>();
      for (const t of tasks as {
        ServiceID?: string;
        Spec?: { ContainerSpec?: { Labels?: Record<string, string> } };
      }[]) {
        if (!t.Spec?.ContainerSpec?.Labels?.[LABELS.run]) continue;
        const svc = await docker
          .getService(t.ServiceID ?? "")
          .inspect()
          .then((x: { Spec?: { Name?: string } }) => x.Spec?.Name)
          .catch(() => undefined);
        services.add(svc ?? `a removed service of run ${t.Spec.ContainerSpec.Labels[LABELS.run]}`);
      }
      return { node: n.node, state: n.state, services: [...services] };
    }),
  );
}
