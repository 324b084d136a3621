/**
 * The cc-ci Pulumi program's composition, above every layer it uses: the warm stack declares the
 * warm layer; a run stack plans the run (lib/runPlan.ts), loads its recipe and declares one CiRun.
 * Everything that can be wrong with the input (config, warm contract, recipe) is found before the
 * first resource is declared. index.ts runs it for the CLI; cc-ci may run it inline.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { CiRun, WarmLayer } from "./components";
import type { RunConfig, StackConfig, WarmConfig } from "./lib/config";
import { warmPrefix } from "./lib/naming";
import { loadRecipe } from "./lib/recipe/load";
import { depWarnings, loadDepRecipes, planRun, recipeOptions, warmViewOfConfig } from "./lib/runPlan";

export function program(config: StackConfig, stack: string = pulumi.getStack()): Record<string, unknown> {
  return config.role === "warm" ? warmProgram(config, stack) : runProgram(config);
}

function warmProgram(config: WarmConfig, stack: string): Record<string, unknown> {
  const provider = new docker.Provider("docker", { host: config.dockerHost });
  const warm = new WarmLayer("warm", { config, provider, prefix: warmPrefix(stack) });
  return { ...warm.outputs };
}

function runProgram(config: RunConfig): Record<string, unknown> {
  const plan = planRun(config, warmViewOfConfig(config));
  const model = loadRecipe(recipeOptions(plan, config));
  const depModels = loadDepRecipes(plan, config, model);
  for (const note of [...plan.notes, ...model.warnings, ...depWarnings(depModels)])
    void pulumi.log.warn(note);
  const provider = new docker.Provider("docker", { host: config.dockerHost });
  const run = new CiRun("run", { plan, model, depModels, config, provider });
  return { ...run.outputs };
}
