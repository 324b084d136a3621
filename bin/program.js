// The Pulumi program's entry (Pulumi.yaml's main): index.ts, as bin/compile.js transpiled it, so the
// language host starts no TypeScript compiler.
"use strict";
// Stack traces as V8 writes them, unmapped: Pulumi's SDK takes one for every promise and resource it
// makes, and mapping each through the source maps (Pulumi's run wrapper installs source-map-support;
// Pulumi.yaml's nodeargs enable Node's own) cost a run's `up` more CPU than its resources did.
// CC_CI_SOURCE_MAPS=1 maps them back to the TypeScript, for debugging the program.
if (process.env.CC_CI_SOURCE_MAPS !== "1") {
  process.setSourceMapsEnabled(false);
  Error.prepareStackTrace = undefined;
}
module.exports = require("./compile").load("index.ts");
