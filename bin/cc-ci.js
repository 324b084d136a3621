// cc-ci's entry: cli/main.ts, as bin/compile.js transpiled it.
"use strict";
require(require("./compile").compiled("cli/main.ts")).main();
