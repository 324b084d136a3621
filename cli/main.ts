/** The cc-ci command line: run, warm, audit, doctor. */
import { DEPS_REQUESTS } from "../lib/deps/plan";
import * as path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { audit, auditTable } from "../automation/commands/audit";
import { checkRecipe, checkText } from "../automation/commands/check";
import { loadEnv, PROJECT_DIR } from "../automation/adapters/env";
import { doctor, doctorTable } from "../automation/commands/doctor";
import { ciRun, type RunArgs } from "../automation/commands/run";
import { runAllVariants } from "../automation/commands/variants";
import { listRuns, runsTable, writeRunsIndex } from "../automation/commands/runs";
import { warmDestroy, warmPreview, warmStatus, warmUp } from "../automation/commands/warm";
import { SSO_REQUESTS } from "../lib/config";
import { WARM_STACK } from "../lib/naming";
import { bytes, durationMs } from "../lib/units";

function keyValue(v: string, acc: Record<string, string>): Record<string, string> {
  const i = v.indexOf("=");
  if (i < 1 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.slice(0, i)))
    throw new InvalidArgumentError("must be KEY=VALUE");
  return { ...acc, [v.slice(0, i)]: v.slice(i + 1) };
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

export function cli(): Command {
  const program = new Command("cc-ci")
    .description("CI infrastructure for Co-op Cloud recipes on Docker Swarm")
    .showHelpAfterError();
  for (const add of [runCommand, runsCommand, checkCommand, auditCommand, doctorCommand, warmCommands])
    add(program);
  return program;
}

function runCommand(program: Command): void {
  program
    .command("run")
    .description("run one recipe's CI: up, wait, test, destroy, verify nothing is left")
    .argument("<recipe-dir>", "the recipe folder (compose.yml, .env.sample, …)")
    .argument("[test-command...]", "the test command, after --")
    .option("--pr <n>", "pull request number (recorded as a label)", positiveInt)
    .option("--ref <sha>", "commit under test (recorded as a label)")
    .addOption(
      new Option("--sso <mode>", "warm, cold, off, or auto (warm when healthy)")
        .choices([...SSO_REQUESTS])
        .default("auto"),
    )
    .addOption(
      new Option("--deps <mode>", "the recipe's dependencies: warm, cold, or auto (warm where served)")
        .choices([...DEPS_REQUESTS])
        .default("auto"),
    )
    .option("--keep-on-failure", "leave the stack up when setup or the tests fail", false)
    .option("--recipe <name>", "recipe name (default: the folder's name)")
    .addOption(
      new Option("--variant <name>", "test one variant of the recipe (.cc-ci/variants/<name>.env)").conflicts(
        "allVariants",
      ),
    )
    .option("--all-variants", "test the recipe as it comes and every variant it offers, each a run", false)
    .option("--parallel <n>", "with --all-variants: runs at once", positiveInt, 2)
    .addOption(
      new Option(
        "--quick",
        "the fast path: SSO and dependencies warm only (no cold fallback), CI_QUICK=1 for the tests",
      ).conflicts(["allVariants", "upgradeFrom"]),
    )
    .option(
      "--upgrade-from <ref>",
      "test the upgrade from this ref of the recipe's repository (auto: its previous release tag) to the one under test",
    )
    .option("--warm-stack <name>", "the warm stack", WARM_STACK)
    .option("--defaults <file>", "run defaults: images, env, policy (YAML)", process.env.CC_CI_RUN_DEFAULTS)
    .option(
      "--catalogue <dir>",
      "the operator's recipes, which `recipe` dependencies name (over the defaults' catalogue)",
      process.env.CC_CI_CATALOGUE,
    )
    .option("--report <file>", "where to write the JSON report")
    .option(
      "--artifacts <dir>",
      "where to collect the run's logs, task history and test output (default: $CC_CI_HOME/runs/<run id>/artifacts)",
    )
    .option(
      "--junit <file>",
      "write the run as JUnit XML (a test case per phase, and per TAP line of the test)",
    )
    .option("--deploy-timeout <seconds>", "time the services get to become healthy during up", positiveInt)
    .option("--test-timeout <seconds>", "time the tests get before their sandbox is killed", positiveInt)
    .option(
      "--oidc-client-secret <secret>",
      "the recipe secret (its compose key) that takes the run's OIDC client secret",
    )
    .option("--json", "print the report as JSON on stdout", false)
    .action(async (recipeDir: string, testCommand: string[], o) => {
      const args: RunArgs = {
        recipeDir,
        testCommand,
        pr: o.pr,
        ref: o.ref,
        sso: o.sso,
        deps: o.deps,
        keepOnFailure: o.keepOnFailure,
        recipe: o.recipe,
        warmStack: o.warmStack,
        defaultsFile: o.defaults,
        catalogue: o.catalogue,
        reportFile: o.report,
        artifactsDir: o.artifacts,
        junitFile: o.junit,
        deployTimeout: o.deployTimeout,
        testTimeout: o.testTimeout,
        oidcClientSecret: o.oidcClientSecret,
        variant: o.variant,
        upgradeFrom: o.upgradeFrom,
        quick: o.quick,
      };
      if (o.allVariants) return allVariants(args, o);
      const report = await ciRun(args);
      if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      process.exitCode = report.exitCode;
    });
}

/** `cc-ci run --all-variants`: each run's outcome on stderr, the reports with --json. */
async function allVariants(args: RunArgs, o: { parallel: number; json: boolean }): Promise<void> {
  const r = await runAllVariants(args, o.parallel);
  for (const p of r.problems) process.stderr.write(`cc-ci run: ${p}\n`);
  for (const x of r.reports)
    process.stderr.write(
      `cc-ci run: ${x.variant ? `variant ${x.variant}` : "as it comes"}: ${x.outcome.toUpperCase()}, exit ${x.exitCode} (${x.runId})\n`,
    );
  if (o.json) process.stdout.write(`${JSON.stringify(r.reports, null, 2)}\n`);
  process.exitCode = r.exitCode;
}

function checkCommand(program: Command): void {
  program
    .command("check")
    .description("load a recipe as a run would and print its plan, or every problem with its file and line")
    .argument("<recipe-dir>", "the recipe folder")
    .option("--env <KEY=VALUE>", "a value for the recipe's .env (repeatable)", keyValue, {})
    .option("--recipe <name>", "recipe name (default: the folder's name)")
    .option(
      "--defaults <file>",
      "run defaults: images, env, policy, limits (YAML)",
      process.env.CC_CI_RUN_DEFAULTS,
    )
    .option(
      "--catalogue <dir>",
      "the operator's recipes, which `recipe` dependencies name (over the defaults' catalogue)",
      process.env.CC_CI_CATALOGUE,
    )
    .option("--variant <name>", "check one variant only (default: the recipe and every variant it offers)")
    .option("--json", "print the result as JSON", false)
    .action((dir: string, o) => {
      const r = checkRecipe(dir, {
        projectDir: PROJECT_DIR,
        recipe: o.recipe,
        env: o.env,
        defaultsFile: o.defaults,
        catalogue: o.catalogue,
        variant: o.variant,
      });
      process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : `${checkText(r)}\n`);
      process.exitCode = r.ok ? 0 : 2;
    });
}

function auditCommand(program: Command): void {
  program
    .command("audit")
    .description(
      "find (and with --reap remove) stale run stacks and residue no stack owns; exit 1 unless clean",
    )
    .option("--reap", "destroy stale stacks and remove residue", false)
    .option("--max-age <duration>", "run stacks older than this are stale (e.g. 90m, 6h, 2d)", "6h")
    .option("--grace <duration>", "nothing younger than this is touched (a run may be starting)", "10m")
    .option("--parallel <n>", "stale stacks reaped at once", positiveInt, 4)
    .option("--disk-budget <size>", "budget for the Docker data root (e.g. 50g)", "50g")
    .option("--no-drift", "skip the warm layer's drift check (a preview with refresh)")
    .option("--warm-stack <name>", "the warm stack", WARM_STACK)
    .option("--json", "print the report as JSON", false)
    .action(async (o) => {
      let maxAgeMs: number;
      let graceMs: number;
      let diskBudgetBytes: number;
      try {
        maxAgeMs = durationMs(o.maxAge, { days: true });
        graceMs = durationMs(o.grace, { days: true });
        diskBudgetBytes = bytes(o.diskBudget);
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message);
      }
      const r = await audit(loadEnv(), {
        reap: o.reap,
        maxAgeMs,
        graceMs,
        parallel: o.parallel,
        diskBudgetBytes,
        drift: o.drift,
        warmStack: o.warmStack,
        log: (l) => process.stderr.write(`${l}\n`),
      });
      process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : `${auditTable(r)}\n`);
      process.exitCode = r.clean ? 0 : 1;
    });
}

function runsCommand(program: Command): void {
  program
    .command("runs")
    .description("the recent runs of this home: outcome, duration, recipe, PR and ref, and their pages")
    .option("--limit <n>", "how many, newest first", positiveInt, 20)
    .option("--json", "print JSON", false)
    .option("--html", "also write an index page linking every run's page (runs/index.html)", false)
    .action((o) => {
      const dir = path.join(loadEnv().home, "runs");
      const runs = listRuns(dir, o.limit);
      process.stdout.write(o.json ? `${JSON.stringify(runs, null, 2)}\n` : `${runsTable(runs)}\n`);
      if (o.html) process.stderr.write(`index: ${writeRunsIndex(runs, dir)}\n`);
    });
}

function doctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("list every prerequisite, its version and origin, and how to fix what is missing")
    .option("--json", "print JSON", false)
    .action(async (o) => {
      const checks = await doctor(loadEnv());
      process.stdout.write(o.json ? `${JSON.stringify(checks, null, 2)}\n` : `${doctorTable(checks)}\n`);
      if (checks.some((c) => !c.ok)) process.exitCode = 1;
    });
}

function warmCommands(program: Command): void {
  const warm = program.command("warm").description("the warm layer (same as `pulumi up -s warm`)");
  warm.option("-s, --stack <name>", "the warm stack", WARM_STACK);
  warm
    .command("up")
    .description("create or update the warm layer")
    .action(async () => warmUp(warm.opts().stack));
  warm
    .command("preview")
    .description("show what `up` would change")
    .option("--expect-no-changes", "exit 1 when anything would change (drift)", false)
    .action(async (o) => {
      const d = await warmPreview(warm.opts().stack, undefined, o.expectNoChanges);
      if ("error" in d) throw new Error(`drift check failed: ${d.error}`);
      if (d.drift) {
        process.stderr.write(`the warm layer has drifted:\n${d.summary}\n`);
        process.exitCode = 1;
      }
    });
  warm
    .command("destroy")
    .description("remove the warm layer")
    .option("--remove", "also remove the stack itself (its history and settings in the backend)", false)
    .action(async (o) => warmDestroy(warm.opts().stack, undefined, o.remove));
  warm
    .command("status")
    .description("is the warm layer there and healthy?")
    .option("--json", "print JSON", false)
    .action(async (o) => {
      const s = await warmStatus(warm.opts().stack);
      if (o.json) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
      else {
        process.stdout.write(
          s.exists
            ? `warm stack: present (domain ${s.domain})\n  traefik: ${s.traefik ? "answering" : "NOT answering"}\n  keycloak: ${s.keycloak ? "answering" : "NOT answering"} (${s.keycloakUrl})\n`
            : "warm stack: absent\n",
        );
        for (const p of s.problems) process.stdout.write(`  problem: ${p}\n`);
      }
      if (!s.exists || !s.traefik || !s.keycloak || s.problems.length > 0) process.exitCode = 1;
    });
}

/** Runs the command line (bin/cc-ci). */
export function main(): void {
  cli()
    .parseAsync(process.argv)
    .catch((e: unknown) => {
      process.stderr.write(`cc-ci: ${(e as Error).message}\n`);
      process.exitCode = 1;
    });
}

if (require.main === module) main();
