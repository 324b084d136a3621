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
  runSettingsOf,
  type ConfigEntry,
  type RunDefaults,
  type SsoRequest,
  type WarmConfig,
} from "../../../lib/config";
import { parseOrThrow, formatProblems } from "../../../lib/errors";
import type { RunNames } from "../../../lib/naming";
import { loadRecipe } from "../../../lib/recipe/load";
import type { RecipeModel } from "../../../lib/recipe/model";
import { loadDepRecipes, planRun, recipeOptions, type RunPlan, type WarmView } from "../../../lib/runPlan";
import type Docker from "dockerode";
import type { DepsContract, KeycloakContract, ProxyContract } from "../../../lib/contract";
import type { DepsRequest, WarmDeps } from "../../../lib/deps/plan";
import { withPg } from "../../../lib/deps/postgres";
import { listS3Units, s3Admin } from "../../../lib/deps/s3";
import { warmPrefix } from "../../../lib/naming";
import { dockerClient, networkUsers, stoppedGateways } from "../../adapters/docker";
import { provisioningProblem } from "../../adapters/keycloak";
import { claimSlot, type LeaseStore } from "../../adapters/leases";
import { readWarm } from "../../adapters/pulumi";

export interface WarmCheck {
  view: WarmView;
  notes: string[];
}

/** Reads the warm stack (if any) and checks whether its Keycloak answers. */
export async function checkWarm(
  ws: LocalWorkspace,
  warmStack: string,
  sso: SsoRequest,
  deps: DepsRequest = "auto",
): Promise<WarmCheck> {
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
  const [kc, warmDeps, stopped] = await Promise.all([
    checkWarmKeycloak(read, sso),
    checkWarmDeps(read.deps, deps),
    stoppedGateways(dockerClient(), warmPrefix(warmStack)).catch(() => []),
  ]);
  if (stopped.length > 0)
    notes.push(
      `the warm layer's gateways ${stopped.map((g) => g.name).join(", ")} are not running (a Docker restart stops them): \`cc-ci warm up\` starts them`,
    );
  notes.push(...kc.notes);
  return { view: { read, ...kc.view, deps: warmDeps }, notes };
}

/** Whether the warm Keycloak can make the run's realm, when the run would use it. */
async function checkWarmKeycloak(
  read: { keycloak?: KeycloakContract },
  sso: SsoRequest,
): Promise<{ view: Pick<WarmView, "keycloakHealthy" | "keycloakProblem">; notes: string[] }> {
  if (!read.keycloak || sso === "off" || sso === "cold")
    return { view: { keycloakHealthy: false }, notes: [] };
  // What the run will ask of it (a token, the realm list), not only whether it answers.
  const problem = await provisioningProblem(read.keycloak);
  if (problem === undefined) return { view: { keycloakHealthy: true }, notes: [] };
  const keycloakProblem = `the warm Keycloak at ${read.keycloak.adminUrl} cannot make realms: ${problem}`;
  return { view: { keycloakHealthy: false, keycloakProblem }, notes: [keycloakProblem] };
}

/** The warm dependencies the run may use: each one's provisioning identity logs in, or it says why not. */
async function checkWarmDeps(deps: DepsContract | undefined, request: DepsRequest): Promise<WarmDeps> {
  if (!deps || request === "cold") return {};
  const out: WarmDeps = { ...deps, problems: {} };
  const problems = out.problems as NonNullable<WarmDeps["problems"]>;
  const pg = deps.postgres;
  const s3 = deps.s3;
  await Promise.all([
    pg &&
      withPg(
        {
          host: pg.adminHost,
          port: pg.adminPort,
          user: pg.provisioning.user,
          password: pg.provisioning.password,
        },
        (c) => c.query("SELECT 1"),
      ).catch((e: Error) => {
        problems.postgres = `the warm postgres does not answer its provisioning role: ${e.message}`;
      }),
    s3 &&
      listS3Units(s3Admin(s3)).catch((e: Error) => {
        problems.s3 = `the warm s3 does not answer its admin API: ${e.message}`;
      }),
  ]);
  return out;
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
  variant?: string;
  quick?: boolean;
  sso: SsoRequest;
  deps?: DepsRequest;
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
  /** The catalogue recipes it depends on (`recipe` dependencies), loaded, by dependency. */
  depModels: Record<string, RecipeModel>;
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
  const runDefaults = runSettingsOf(defaults);
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
      variant: req.variant,
      quick: req.quick,
      sso: req.sso,
      warmProxy: warm.read?.ok ? warm.read.proxy : undefined,
      proxyNetwork: warm.read?.ok ? req.proxyNetwork : undefined,
      warmKeycloak: warm.read?.ok && warm.keycloakHealthy ? warm.read.keycloak : undefined,
      deps: req.deps ?? "auto",
      warmPostgres: warm.deps?.postgres && !warm.deps.problems?.postgres ? warm.deps.postgres : undefined,
      postgres: settings.postgres,
      warmS3: warm.deps?.s3 && !warm.deps.problems?.s3 ? warm.deps.s3 : undefined,
      s3: settings.s3,
      smtp: settings.smtp,
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
  const depModels = loadDepRecipes(plan, config, model);
  const stackConfig = encodeConfig({
    ...config,
    sso: plan.sso.mode,
    // Need to know: the provisioning identity goes into the run's state only when the run uses it.
    warmKeycloak: plan.sso.mode === "warm" ? plan.sso.keycloak : undefined,
    warmS3: plan.deps.some((d) => d.kind === "s3" && d.mode === "warm") ? config.warmS3 : undefined,
    warmPostgres: plan.deps.some((d) => d.kind === "postgres" && d.mode === "warm")
      ? config.warmPostgres
      : undefined,
  });
  return { config, plan, model, depModels, stackConfig };
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
