/**
 * What one run knows as it goes, in one record: what it was asked (RunArgs), what it holds from its
 * first moment (names, lease, claims, the abort signal), and what each phase adds (the workspace,
 * the stack, the plan, the outputs). The phases (start → setup → tests → teardown) read and fill it;
 * teardown undoes exactly what is recorded here, whatever phase failed.
 */
import type { UpgradePlan } from "./upgrade";
import * as path from "node:path";
import type { DepsRequest } from "../../../lib/deps/plan";
import type Docker from "dockerode";
import type { Stack } from "@pulumi/pulumi/automation";
import type { RunDefaults, SsoRequest } from "../../../lib/config";
import type { RunNames } from "../../../lib/naming";
import type { CcciEnv } from "../../adapters/env";
import type { LeaseStore, RunClaims } from "../../adapters/leases";
import type { OpenWorkspace, StackOutputs } from "../../adapters/pulumi";
import type { DiskBudgetError } from "./diskBudget";
import type { Prepared } from "./prepare";
import type { PhaseClock, RunReport } from "./report";
import type { SignalWatch } from "./signals";

export interface RunArgs {
  /** The recipe folder. */
  recipeDir: string;
  /** Recipe name. Default: the folder's name. */
  recipe?: string;
  pr?: number;
  ref?: string;
  /** The recipe's variant to test (.cc-ci/variants/<name>.env); none: the recipe as it comes. */
  variant?: string;
  /**
   * The fast path: SSO and dependencies warm only (a missing or unhealthy warm instance fails the run
   * at once instead of falling back to cold), CI_QUICK=1 for the tests.
   */
  quick?: boolean;
  /** Test the upgrade from this ref of the recipe's repository (`auto`: its previous release). */
  upgradeFrom?: string;
  /** auto: warm when the warm Keycloak is healthy, else cold. Default: auto. */
  sso?: SsoRequest;
  /** Where the recipe's dependencies come from: auto (warm where served), warm or cold. Default: auto. */
  deps?: DepsRequest;
  /** Leave the stack up when setup or the tests fail (for debugging). Default: false. */
  keepOnFailure?: boolean;
  /** The test command; default: the recipe's executable .cc-ci/test, if any. */
  testCommand?: string[];
  /** The warm stack's name. Default: warm. */
  warmStack?: string;
  /** Run defaults file (images, env, policy). */
  defaultsFile?: string;
  /** The operator's catalogue of recipes (`--catalogue`), over the defaults file's. */
  catalogue?: string;
  /** Where to write the JSON report. Default: $CC_CI_HOME/runs/<run id>/report.json. */
  reportFile?: string;
  /** Where to collect the run's artifacts (logs, task history, test output). Default: $CC_CI_HOME/runs/<run id>/artifacts. */
  artifactsDir?: string;
  /** Where to write the run as JUnit XML, if anywhere. */
  junitFile?: string;
  /** Seconds the recipe's services get to become healthy during `up`. Default: the run defaults' (600). */
  deployTimeout?: number;
  /** Seconds the tests get before their sandbox is killed. Default: the run defaults' (900). */
  testTimeout?: number;
  /** The recipe secret (compose key) that takes the run's OIDC client secret instead of a generated value. */
  oidcClientSecret?: string;
  /** Fixed run hex (tests); default: random. */
  hex?: string;
  /** Progress lines. Default: stderr. */
  log?: (line: string) => void;
  /** Aborts the run as SIGTERM would (tests). */
  signal?: AbortSignal;
  /** Install SIGINT/SIGTERM handlers. Default: true. */
  handleSignals?: boolean;
}

/** What validation made: the parsed config, the plan, the loaded recipe and the run defaults. */
export type Validated = Prepared & { defaults: RunDefaults };

export interface RunState {
  readonly args: RunArgs;
  readonly env: CcciEnv;
  readonly names: RunNames;
  readonly recipeDir: string;
  readonly report: RunReport;
  readonly clock: PhaseClock;
  readonly started: number;
  /** A progress line, prefixed with the run id. */
  readonly say: (line: string) => void;
  readonly leases: LeaseStore;
  readonly lease: { release(): Promise<void> };
  /** Exclusive claims on what runs share besides networks (pooled realms, the pool's top-up). */
  readonly claims: RunClaims;
  readonly docker: Docker;
  readonly signals: SignalWatch;
  /** The run's own read-only copy of the recipe: what is deployed, bind-mounted and tested. */
  readonly copyDir: string;
  readonly warmStack: string;
  readonly sso: SsoRequest;
  readonly deps: DepsRequest;
  /** The warm proxy's network the run has to itself, once claimed. */
  slot?: string;
  work?: OpenWorkspace;
  stack?: Stack;
  validated?: Validated;
  /** An upgrade test's base and target, both validated before anything is deployed. */
  upgrade?: UpgradePlan;
  outputs?: StackOutputs;
  /** A realm on the warm Keycloak is (being) made: teardown removes it. */
  realmMade: boolean;
  /** The realm pool's top-up, started by the realm phase; its failure is a warning. */
  topUp?: Promise<string | undefined>;
  disk?: { stop(): void };
  overBudget?: DiskBudgetError;
  setupFailed: boolean;
  invalid: boolean;
  /** What the test printed, as relayed (bounded by the sandbox's output budget). */
  testOutput: string[];
  /** What the tests left in their /artifacts, copied into the run's artifacts' `test/` folder. */
  testArtifacts: { dir: string; copied: string[]; problems: string[] };
}

/** Where a run's artifacts go: `--artifacts DIR`, else beside its report. */
export function artifactsDir(args: RunArgs, home: string, runId: string): string {
  return args.artifactsDir ?? path.join(home, "runs", runId, "artifacts");
}

/** The report a run starts with (names undefined: the recipe's name could not make them). */
export function newReport(
  recipe: string,
  names: RunNames | undefined,
  started: number,
  clock: PhaseClock,
): RunReport {
  return {
    runId: names?.runId ?? "",
    recipe,
    stack: names?.stack ?? "",
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    outcome: "passed",
    exitCode: 0,
    phases: clock.phases,
    residue: { docker: [] },
    warnings: [],
  };
}

/** Throws when the run was interrupted (SIGINT/SIGTERM, the disk budget): the phases stop there. */
export function stopIfAborted(s: RunState): void {
  if (s.signals.abort.signal.aborted) throw new Error("interrupted");
}
