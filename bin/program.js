// The Pulumi program's entry (Pulumi.yaml's main): index.ts, as bin/compile.js transpiled it, so the
// language host starts no TypeScript compiler.
"use strict";
module.exports = require("./compile").load("index.ts");
