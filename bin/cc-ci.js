// cc-ci's entry: cli/main.ts, as bin/compile.js transpiled it.
"use strict";
require("./compile").load("cli/main.ts").main();
