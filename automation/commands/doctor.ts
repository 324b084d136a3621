/** `cc-ci doctor`: every prerequisite, its version, where it came from, and the fix for what is missing. */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import * as path from "node:path";
import { dockerClient } from "../adapters/docker";
import type { CcciEnv } from "../adapters/env";
import { homeName, pulumiErrorSummary, stackList, withWorkspace } from "../adapters/pulumi";
import { readWarmSettings } from "../../lib/config";

export interface Check {
  name: string;
  ok: boolean;
  version?: string;
  source?: string;
  fix?: string;
  /** More for machines (`--json`): the swarm's nodes, the state backend's kind and health. */
  details?: Record<string, unknown>;
}

/** A swarm node as doctor reports it. */
export interface NodeReport {
  hostname: string;
  role: string;
  state: string;
  availability: string;
  address?: string;
  leader?: boolean;
}

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string | undefined {
  try {
    return execFileSync(cmd, args, {
      encoding: "utf8",
      timeout: 30000,
      env,
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return undefined;
  }
}

function npmVersion(projectDir: string, pkg: string): string | undefined {
  try {
    return (
      JSON.parse(readFileSync(path.join(projectDir, "node_modules", pkg, "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
  } catch {
    return undefined;
  }
}

const SETUP = "scripts/env/setup.sh";

/** What the probes share: the agent's environment, the engine, and the Pulumi CLI found once. */
interface Probing {
  env: CcciEnv;
  docker: ReturnType<typeof dockerClient>;
  /** The CLI's path ("" when none) and its version (undefined when it does not answer). */
  pulumi: { path: string; version?: string };
}

/** One prerequisite (or a family of them), checked. */
type Probe = (p: Probing) => Promise<Check[]> | Check[];

/** What `cc-ci doctor` checks, in the order it reports. */
const PROBES: Probe[] = [
  dockerProbe,
  nodeProbe,
  pulumiProbe,
  languageHostProbe,
  pluginsProbe,
  imagesProbe,
  async (p) => [await backendCheck(p.env, p.pulumi.version !== undefined)],
];

export async function doctor(env: CcciEnv): Promise<Check[]> {
  const cli = env.pulumiBin
    ? path.join(env.pulumiBin, "pulumi")
    : (run("bash", ["-c", "command -v pulumi"]) ?? "");
  const probing: Probing = {
    env,
    docker: dockerClient(),
    pulumi: { path: cli, version: cli ? run(cli, ["version"]) : undefined },
  };
  const checks: Check[] = [];
  for (const probe of PROBES) checks.push(...(await probe(probing)));
  return checks;
}

/** The engine (its version, its package) and the swarm (this node a manager, every node ready). */
async function dockerProbe({ docker }: Probing): Promise<Check[]> {
  try {
    const v = await docker.version();
    const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
    const pkg = run("dpkg-query", ["-W", "-f=${Version}", "docker.io"]);
    const engine: Check = {
      name: "docker engine",
      ok: true,
      version: `${v.Version} (API ${v.ApiVersion})`,
      source: pkg ? `Debian package docker.io ${pkg}` : "installed outside Debian's packages",
    };
    return [
      engine,
      await swarmCheck(docker, info.Swarm?.LocalNodeState, info.Swarm?.ControlAvailable === true),
    ];
  } catch (e) {
    return [{ name: "docker engine", ok: false, fix: `scripts/env/docker.sh (${(e as Error).message})` }];
  }
}

async function swarmCheck(
  docker: Probing["docker"],
  state: string | undefined,
  control: boolean,
): Promise<Check> {
  const manager = state === "active" && control;
  const nodes: NodeReport[] = manager
    ? (await docker.listNodes()).map((n) => ({
        hostname: n.Description?.Hostname ?? n.ID ?? "?",
        role: n.Spec?.Role ?? "?",
        state: n.Status?.State ?? "?",
        availability: n.Spec?.Availability ?? "?",
        address: n.Status?.Addr,
        leader: n.ManagerStatus?.Leader ?? false,
      }))
    : [];
  const down = nodes.filter((n) => n.state !== "ready");
  return {
    name: "swarm",
    ok: manager && down.length === 0,
    version: state,
    source: manager
      ? `${nodes.length} node(s): ${nodes.map((n) => `${n.hostname} (${n.role}, ${n.state})`).join(", ")}`
      : undefined,
    details: { nodes },
    fix:
      down.length > 0
        ? `node(s) ${down.map((n) => n.hostname).join(", ")} not ready: start their engines, or \`docker node rm\` them`
        : state === "active"
          ? "this node is not a manager; run cc-ci on a manager"
          : "scripts/env/docker.sh (docker swarm init --advertise-addr 127.0.0.1)",
  };
}

function nodeProbe({ env }: Probing): Check[] {
  const node = process.execPath;
  return [
    {
      name: "node",
      ok: Number(process.versions.node.split(".")[0]) >= 22,
      version: process.version,
      source: node.includes(`${path.sep}node_modules${path.sep}`)
        ? `npm package "node" ${npmVersion(env.projectDir, "node") ?? ""} (${node})`
        : node,
      fix: "npm ci (installs Node 24 into node_modules/.bin)",
    },
  ];
}

function pulumiProbe({ env, pulumi }: Probing): Check[] {
  const want = npmVersion(env.projectDir, "@pulumi/pulumi");
  return [
    {
      name: "pulumi CLI",
      ok: pulumi.version !== undefined,
      version: pulumi.version,
      source: pulumi.path.includes("/cc-ci/pulumi/")
        ? `built from the Go module proxy by scripts/env/pulumi.sh (${pulumi.path})`
        : pulumi.path || undefined,
      fix: `${SETUP} (or the official installer on hosts that can download); SDK is @pulumi/pulumi ${want}`,
    },
  ];
}

/** Beside the CLI (when there is one: a missing CLI is reported by its own probe, not thrown). */
function languageHostProbe({ pulumi }: Probing): Check[] {
  const host =
    pulumi.path && existsSync(pulumi.path)
      ? path.join(path.dirname(realpathSync(pulumi.path)), "pulumi-language-nodejs")
      : "";
  return [
    {
      name: "nodejs language host",
      ok: host !== "" && existsSync(host),
      source: host.includes("/cc-ci/pulumi/")
        ? `cc-ci's own host (go/pulumi-language-nodejs), the official one is not on the Go module proxy`
        : host || undefined,
      fix: SETUP,
    },
  ];
}

/** The provider plugins, at the versions the SDKs in node_modules ask for. */
function pluginsProbe({ env, pulumi }: Probing): Check[] {
  const plugins = pulumi.version
    ? run(pulumi.path, ["plugin", "ls", "--json"], { ...process.env, PULUMI_HOME: env.sharedPulumiHome })
    : undefined;
  const installed = plugins ? (JSON.parse(plugins) as { name: string; kind: string; version: string }[]) : [];
  return ["docker", "keycloak"].map((name) => {
    const v = npmVersion(env.projectDir, `@pulumi/${name}`);
    const have = installed.filter((p) => p.kind === "resource" && p.name === name).map((p) => p.version);
    return {
      name: `${name} provider plugin`,
      ok: v !== undefined && have.includes(v),
      version: have.join(", ") || undefined,
      source: existsSync(path.join(env.projectDir, "go", "providers", name))
        ? "built from the Go module proxy by scripts/env/providers.sh"
        : undefined,
      fix: `the SDK asks for ${v}: ${SETUP} (or \`pulumi plugin install resource ${name} ${v}\` where downloads work)`,
    };
  });
}

/** The images the warm layer's settings name, on this engine. */
async function imagesProbe({ env, docker }: Probing): Promise<Check[]> {
  const settings = readWarmSettings(path.join(env.projectDir, "Pulumi.warm.yaml"));
  const images = [
    settings.traefik.image,
    settings.keycloak.image,
    settings.keycloak.database.image,
    ...(settings.registry.enabled ? [settings.registry.image] : []),
    // The warm dependencies' servers, and what a cold one in a run would run.
    settings.postgres.image,
    settings.s3.image,
    settings.smtp.image,
  ];
  const checks: Check[] = [];
  for (const image of [...new Set(images)]) {
    try {
      const i = await docker.getImage(image).inspect();
      const source = imageSource(i.Config?.Labels?.["cc-ci.context-hash"]);
      checks.push({ name: `image ${image}`, ok: true, version: i.Id.slice(7, 19), source });
    } catch {
      checks.push({
        name: `image ${image}`,
        ok: false,
        fix: `scripts/env/images.sh, or docker pull ${image}`,
      });
    }
  }
  return checks;
}

/** Where scripts/env/images.sh got an image (its label), or that it was pulled as it is. */
function imageSource(contextHash: string | undefined): string {
  if (!contextHash) return "pulled";
  return contextHash.startsWith("upstream-")
    ? "the upstream image, tagged by scripts/env/images.sh"
    : "built locally by scripts/env/images.sh";
}

/** The backend URL with any password hidden. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}

/** Which kind of backend, and whether it answers: a stack listing through the Pulumi CLI. */
async function backendCheck(env: CcciEnv, haveCli: boolean): Promise<Check> {
  const kind = /^([a-z0-9]+):\/\//.exec(env.backendUrl)?.[1] ?? "?";
  const base = {
    name: "state backend",
    version: redactUrl(env.backendUrl),
    source: process.env.PULUMI_BACKEND_URL ? "PULUMI_BACKEND_URL" : "default (CC_CI_HOME)",
  };
  if (!haveCli)
    return {
      ...base,
      ok: false,
      details: { kind, health: "not checked: no Pulumi CLI" },
      fix: "see pulumi CLI",
    };
  const t0 = Date.now();
  try {
    const stacks = await withWorkspace(env, homeName("doctor"), (ws) => stackList(ws));
    return {
      ...base,
      ok: true,
      details: { kind, health: "ok", stacks: stacks.length, answeredMs: Date.now() - t0 },
    };
  } catch (e) {
    const password = (() => {
      try {
        return decodeURIComponent(new URL(env.backendUrl).password);
      } catch {
        return "";
      }
    })();
    let said = pulumiErrorSummary(e).split(env.backendUrl).join(redactUrl(env.backendUrl));
    if (password) said = said.split(password).join("***");
    return {
      ...base,
      ok: false,
      details: { kind, health: said },
      fix: `the backend does not answer a stack listing (${said}): check PULUMI_BACKEND_URL and that its server runs`,
    };
  }
}

export function doctorTable(checks: Check[]): string {
  return checks
    .map(
      (c) =>
        `${c.ok ? "ok  " : "MISSING"} ${c.name.padEnd(28)} ${c.version ?? ""}${c.source ? `  — ${c.source}` : ""}${c.ok ? "" : `\n        fix: ${c.fix}`}`,
    )
    .join("\n");
}
