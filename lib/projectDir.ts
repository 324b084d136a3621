/**
 * The project's folder: the nearest one above this file with Pulumi.yaml and package.json. Found,
 * not assumed at a fixed depth, because the code also runs from its transpiled copy in .build/
 * (bin/compile.js), which has neither.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";

function findProjectDir(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "Pulumi.yaml")) && existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no project folder (Pulumi.yaml) above ${from}`);
  }
}

export const PROJECT_DIR = findProjectDir(__dirname);
