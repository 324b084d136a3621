// The project's TypeScript, transpiled once per version of its sources into .build/ (what ts-node's
// transpile-only mode does at every start of cc-ci and of the Pulumi program's language host, which
// costs a run about two CPU-seconds each time). A version is the hash of every source file, the
// compiler's version and the options: a changed file makes a new version on the next start; type
// checking stays `npm run typecheck`'s. Plain JavaScript, so it needs no compiling itself.
"use strict";
const { createHash } = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const BUILD = path.join(ROOT, ".build");
const SOURCES = ["index.ts", "program.ts", "cli", "automation", "components", "lib"];

// Node's on-disk cache of compiled bytecode (the SDKs' modules load in half the time).
require("node:module").enableCompileCache?.(path.join(BUILD, "node-compile-cache"));

function sourceFiles() {
  const out = [];
  const walk = (rel) => {
    const abs = path.join(ROOT, rel);
    const st = fs.statSync(abs, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(abs).sort()) walk(path.join(rel, e));
    } else if (rel.endsWith(".ts") && !rel.endsWith(".d.ts")) out.push(rel);
  };
  SOURCES.forEach(walk);
  return out;
}

function compilerOptions(ts) {
  const file = path.join(ROOT, "tsconfig.json");
  const { config, error } = ts.readConfigFile(file, ts.sys.readFile);
  if (error) throw new Error(`tsconfig.json: ${ts.flattenDiagnosticMessageText(error.messageText, "\n")}`);
  const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions ?? {}, ROOT);
  return { ...options, sourceMap: false, inlineSourceMap: true, inlineSources: false, outDir: undefined };
}

/** The folder of the current version's JavaScript, made when missing. */
function compiledDir() {
  const files = sourceFiles();
  const hash = createHash("sha256");
  for (const f of files)
    hash
      .update(`${f}\0`)
      .update(fs.readFileSync(path.join(ROOT, f)))
      .update("\0");
  hash.update(fs.readFileSync(path.join(ROOT, "tsconfig.json")));
  const tsPackage = path.join(ROOT, "node_modules", "typescript", "package.json");
  hash.update(fs.existsSync(tsPackage) ? JSON.parse(fs.readFileSync(tsPackage, "utf8")).version : "");
  const dir = path.join(BUILD, `js-${hash.digest("hex").slice(0, 16)}`);
  if (fs.existsSync(path.join(dir, ".complete"))) return dir;

  const ts = require("typescript");
  const options = compilerOptions(ts);
  fs.mkdirSync(BUILD, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(BUILD, ".tmp-"));
  try {
    for (const f of files) {
      const abs = path.join(ROOT, f);
      const out = ts.transpileModule(fs.readFileSync(abs, "utf8"), {
        compilerOptions: { ...options, sourceRoot: path.dirname(abs) },
        fileName: path.basename(abs),
        reportDiagnostics: true,
      });
      const bad = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
      if (bad.length > 0)
        throw new Error(`${f}: ${ts.flattenDiagnosticMessageText(bad[0].messageText, "\n")}`);
      const target = path.join(tmp, f.replace(/\.ts$/, ".js"));
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, out.outputText);
    }
    fs.writeFileSync(path.join(tmp, ".complete"), `${files.length} files\n`);
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      // Another process made the same version first: theirs is as good.
      if (!fs.existsSync(path.join(dir, ".complete"))) throw e;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  // Versions of other sources, unused for a day, go (a process may still be running one).
  const dayAgo = Date.now() - 86_400_000;
  for (const e of fs.readdirSync(BUILD)) {
    const p = path.join(BUILD, e);
    if (/^(js-|\.tmp-)/.test(e) && p !== dir && fs.statSync(p).mtimeMs < dayAgo)
      fs.rmSync(p, { recursive: true, force: true });
  }
  return dir;
}

/** The compiled module of a source file given by its path in the project (`cli/main.ts`). */
function compiled(source) {
  return path.join(compiledDir(), source.replace(/\.ts$/, ".js"));
}

/**
 * A source file's module: the transpiled copy, or — where .build/ cannot be written (a read-only
 * checkout, another user's) — the TypeScript itself through ts-node, as before there was a copy.
 */
function load(source) {
  let file;
  try {
    file = compiled(source);
  } catch (e) {
    if (!["EACCES", "EPERM", "EROFS"].includes(e.code)) throw e;
    require("ts-node").register({ transpileOnly: true });
    file = path.join(ROOT, source);
  }
  return require(file);
}

module.exports = { compiled, compiledDir, load, ROOT };
