// The cc-ci Pulumi program for the CLI (`pulumi up -s warm`): the stack's config is parsed once here
// (bad config fails with every problem listed, before any resource), then program.ts declares it.
// A run stack's secret settings come from the CLI's environment, not its settings file (lib/config.ts:
// SECRET_CONFIG_ENV), and its outputs go back to cc-ci at the end of its `up` (lib/handedOutputs.ts).
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, secretConfigFromEnv } from "./lib/config";
import { handOutputs } from "./lib/handedOutputs";
import { program } from "./program";

const outputs = program(
  parseStackConfig({ ...pulumi.runtime.allConfig(), ...secretConfigFromEnv(process.env) }, pulumi.getStack()),
);
handOutputs(outputs, process.env);
export = outputs;
