// The cc-ci Pulumi program. The warm stack declares the warm layer, a run stack one CI run; see
// lib/program.ts. Configuration is parsed once there, and bad config fails before any resource.
import { program } from "./lib/program";

export = program();
