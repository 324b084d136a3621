/**
 * The phases before anything exists: the warm check (is there a warm layer, does its Keycloak
 * answer) and validation (the run's config parsed, the run planned, the recipe loaded). A broken
 * recipe or bad settings fail here, with every problem listed, before any stack or resource.
 */
import * as net from "node:net";
import type { LocalWorkspace } from "@pulumi/pulumi/automation";
import {
  RunConfig,
  encodeConfig,
  type ConfigEntry,
  type RunDefaults,
  type SsoRequest,
  type WarmConfig,
} from "../../../lib/config";
import { parseOrThrow, formatProblems } from "../../../lib/errors";
import type { RunNames } from "../../../lib/naming";
import { loadRecipe } from "../../../lib/recipe/load";
import type { RecipeModel } from "../../../lib/recipe/model";
import { planRun, recipeOptions, type RunPlan, type WarmView } from "../../../lib/runPlan";
import type Docker from "dockerode";
import type { ProxyContract } from "../../../lib/contract";
import { warmPrefix } from "../../../lib/naming";
import { networkUsers } from "../../adapters/docker";
import { provisioningProblem } from "../../adapters/keycloak";
import { claimSlot, type LeaseStore } from "../../adapters/leases";
import { readWarm } from "../../adapters/pulumi";

export interface WarmCheck {
  view: WarmView;
  notes: string[];
}

/** Reads the warm stack (if any) and checks whether its Keycloak answers. */
export async function checkWarm(ws: LocalWorkspace, warmStack: string, sso: SsoRequest): Promise<WarmCheck> {
  const notes: string[] = [];
  const warm = await readWarm(ws, warmStack);
  if (!warm.exists || !warm.read) {
    notes.push(
      `no warm stack "${warmStack}": the run brings its own Traefik${sso === "off" ? "" : " and a cold Keycloak"}`,
    );
    return { view: { keycloakHealthy: false }, notes };
  }
  const read = warm.read;
  if (!read.ok) {
    notes.push(`warm stack "${warmStack}" is unusable: ${formatProblems(read.problems)}`);
    return { view: { read, keycloakHealthy: false }, notes };
  }
  if (!read.keycloak || sso === "off" || sso === "cold")
    return { view: { read, keycloakHealthy: false }, notes };
  // What the run will ask of it (a token, the realm list), not only whether it answers.
  const problem = await provisioningProblem(read.keycloak);
  if (problem === undefined) return { view: { read, keycloakHealthy: true }, notes };
  const keycloakProblem = `the warm Keycloak at ${read.keycloak.adminUrl} cannot make realms: ${problem}`;
  notes.push(keycloakProblem);
  return { view: { read, keycloakHealthy: false, keycloakProblem }, notes };
}

/** Claims one of the warm proxy's slot networks for the run (none other than the proxy may use it). */
export function claimRunSlot(
  docker: Docker,
  leases: LeaseStore,
  runId: string,
  warmStack: string,
  proxy: ProxyContract,
): Promise<string> {
  const traefik = `${warmPrefix(warmStack)}_traefik`;
  return claimSlot(leases, runId, proxy.networks, (n) =>
    networkUsers(docker, n, (u) => u.startsWith(traefik)),
  );
}

/** What a run asks for, from the command line. */
export interface RunRequest {
  names: RunNames;
  /** The state backend's owner id (lib/naming ownerId). */
  owner?: string;
  recipeDir: string;
  recipe: string;
  pr?: number;
  ref?: string;
  sso: SsoRequest;
  deployTimeout?: number;
  /** The warm proxy's slot network leased for the run. */
  proxyNetwork?: string;
  /** The recipe secret (compose key) that takes the run's OIDC client secret. */
  oidcClientSecret?: string;
}

export interface Prepared {
  config: RunConfig;
  plan: RunPlan;
  model: RecipeModel;
  /** The run stack's config: the parsed config, SSO resolved, the warm Keycloak only when used. */
  stackConfig: Record<string, ConfigEntry>;
}

/** Host ports a run may need for its own Traefik and a cold Keycloak's admin port. */
export interface RunPorts {
  http: number;
  https: number;
  keycloakAdmin: number;
}

/**
 * Host ports of a run's own Traefik come from this range, which the host firewall opens to
 * containers (scripts/env/firewall.sh), so the run's tests reach it from their sandbox.
 */
export const RUN_PROXY_PORTS = { from: 18400, to: 18499 } as const;

export async function freeRunPorts(): Promise<RunPorts> {
  const http = await freePort(RUN_PROXY_PORTS);
  const https = await freePort(RUN_PROXY_PORTS, [http]);
  // The admin port is bound to 127.0.0.1 only: any free port will do.
  return { http, https, keycloakAdmin: await freePort() };
}

/**
 * Parses the run's config from the operator's warm settings, run defaults and the request; plans the
 * run; loads the recipe. Throws a ValidationError listing every problem.
 */
export function prepareRun(
  req: RunRequest,
  warm: WarmView,
  settings: WarmConfig,
  defaults: RunDefaults,
  ports: RunPorts,
): Prepared {
  const own = !warm.read?.ok;
  const { readyTimeout: _ready, sandbox: _sandbox, ...runDefaults } = defaults;
  const config = parseOrThrow(
    RunConfig,
    {
      role: "run",
      runId: req.names.runId,
      owner: req.owner,
      recipeDir: req.recipeDir,
      recipe: req.recipe,
      pr: req.pr,
      ref: req.ref,
      sso: req.sso,
      warmProxy: warm.read?.ok ? warm.read.proxy : undefined,
      proxyNetwork: warm.read?.ok ? req.proxyNetwork : undefined,
      warmKeycloak: warm.read?.ok && warm.keycloakHealthy ? warm.read.keycloak : undefined,
      domain: settings.domain,
      dockerHost: settings.dockerHost,
      // A cold Keycloak must not take the warm one's admin port, nor another run's.
      keycloak: { ...settings.keycloak, adminPort: ports.keycloakAdmin, adminUrl: undefined },
      traefik: own ? { ...settings.traefik, httpPort: ports.http, httpsPort: ports.https } : settings.traefik,
      ...runDefaults,
      deployTimeout: req.deployTimeout ?? defaults.deployTimeout,
      oidcClientSecret: req.oidcClientSecret ?? defaults.oidcClientSecret,
      // The converge phase waits for the services, polling faster than the provider does.
      waitForServices: false,
    },
    "run config",
  );
  const plan = planRun(config, warm);
  // The program loads the recipe again; loading it here fails a broken recipe before any stack exists.
  const model = loadRecipe(recipeOptions(plan, config));
  const stackConfig = encodeConfig({
    ...config,
    sso: plan.sso.mode,
    // Need to know: the provisioning identity goes into the run's state only when the run uses it.
    warmKeycloak: plan.sso.mode === "warm" ? plan.sso.keycloak : undefined,
  });
  return { config, plan, model, stackConfig };
}

/** A free TCP port on this host: any, or one in `range` (tried from a random start) but not in `taken`. */
export async function freePort(range?: { from: number; to: number }, taken: number[] = []): Promise<number> {
  if (!range) return listenOn(0);
  const n = range.to - range.from + 1;
  const start = Math.floor(Math.random() * n);
  for (let i = 0; i < n; i++) {
    const port = range.from + ((start + i) % n);
    if (taken.includes(port)) continue;
    const got = await listenOn(port).catch(() => undefined);
    if (got !== undefined) return got;
  }
  throw new Error(`no free port in ${range.from}-${range.to} for the run's own Traefik`);
}

function listenOn(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(port, () => {
      const got = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(got));
    });
  });
}
