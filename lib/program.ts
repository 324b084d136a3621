/**
 * The Pulumi program: parse the stack's config once, validate everything a run needs (warm contract,
 * recipe), and only then declare resources — WarmLayer on the warm stack, CiRun on a run stack.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { CiRun, WarmLayer, warmPrefix } from "../components";
import { parseStackConfig, type RunConfig, type WarmConfig } from "./config";
import { readWarmOutputs, type ContractRead } from "./contract";
import { loadRecipe } from "./recipe/load";
import { planRun, recipeOptions } from "./runPlan";

export async function program(): Promise<Record<string, unknown>> {
  const config = parseStackConfig(pulumi.runtime.allConfig(), pulumi.getStack());
  return config.role === "warm" ? warmProgram(config) : runProgram(config);
}

function warmProgram(config: WarmConfig): Record<string, unknown> {
  const provider = new docker.Provider("docker", { host: config.dockerHost });
  const warm = new WarmLayer("warm", { config, provider, prefix: warmPrefix(pulumi.getStack()) });
  return {
    contractVersion: warm.outputs.contractVersion,
    proxy: warm.outputs.proxy,
    keycloak: warm.outputs.keycloak,
    keycloakAdmin: {
      username: warm.keycloak.adminUser,
      password: pulumi.secret(warm.keycloak.adminPassword),
    },
  };
}

async function readWarm(stack: string): Promise<ContractRead> {
  const ref = new pulumi.StackReference("warm", { name: stack });
  const keys = ["contractVersion", "proxy", "keycloak"] as const;
  const details = await Promise.all(keys.map((k) => ref.getOutputDetails(k)));
  const outputs: Record<string, unknown> = {};
  keys.forEach((k, i) => {
    const v = details[i].value ?? details[i].secretValue;
    if (v !== undefined) outputs[k] = v;
  });
  return readWarmOutputs(outputs);
}

async function runProgram(config: RunConfig): Promise<Record<string, unknown>> {
  const warm = config.warmStack === "" ? undefined : await readWarm(config.warmStack);
  const plan = planRun(config, warm);
  const model = loadRecipe(recipeOptions(plan, config));
  for (const note of [...plan.notes, ...model.warnings]) void pulumi.log.warn(note);
  const provider = new docker.Provider("docker", { host: config.dockerHost });
  const run = new CiRun("run", { plan, model, config, provider });
  return run.outputs(plan, model);
}
