// The cc-ci Pulumi program for the CLI (`pulumi up -s warm`): the stack's config is parsed once here
// (bad config fails with every problem listed, before any resource), then program.ts declares it.
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig } from "./lib/config";
import { program } from "./program";

export = program(parseStackConfig(pulumi.runtime.allConfig(), pulumi.getStack()));
