import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { builtinRules } from "eslint/use-at-your-own-risk";

/**
 * ESLint's own max-lines-per-function once more under another name, so one rule warns (at 80 lines)
 * while the original errs (at 120): a config holds one setting per rule.
 */
const size = { rules: { "function-lines-soft": builtinRules.get("max-lines-per-function") } };
const FUNCTION_LINES = { skipBlankLines: true, skipComments: true };

/**
 * The layers point one way: cli → automation → components → lib, with the program's composition
 * (index.ts, program.ts) on top; inside automation, commands → adapters. A module may import its own layer and the ones below, never above.
 * Patterns match the import specifier, so relative paths from any depth are caught.
 */
const upward = (layers, sideways = []) => ({
  "no-restricted-imports": [
    "error",
    {
      patterns: [
        ...layers.map((layer) => ({
          group: [`**/${layer}`, `**/${layer}/**`],
          message: `layers point one way (cli → automation → components → lib): this module may not import ${layer}/`,
        })),
        ...sideways.map((folder) => ({
          group: [`**/${folder}`, `**/${folder}/**`],
          message: `adapters serve commands, never the other way: an adapter may not import ${folder}/`,
        })),
        {
          group: ["../index", "../../index", "../../../index", "**/program"],
          message: "layers point one way: only the top (index.ts, program.ts, cli/) composes the program",
        },
      ],
    },
  ],
});

export default tseslint.config(
  {
    ignores: [
      "node_modules/**",
      "dist/**",
      ".build/**",
      "coverage/**",
      "test/fixtures/**",
      "scripts/env/**/node_modules/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.js", "**/*.cjs"],
    languageOptions: {
      sourceType: "commonjs",
      globals: { module: "writable", require: "readonly", __dirname: "readonly" },
    },
  },
  // bin/'s entry points are plain CommonJS (they load the transpiled sources with require()), and so
  // are the developers' scripts.
  {
    files: ["bin/**/*.js", "scripts/dev/**/*.js"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    files: ["bin/**/*.js", "scripts/dev/**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
  // Promises: none left floating, none where a callback's result is ignored (type-aware).
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
    },
  },
  // Size: a function a reader holds in their head, a file they can read through. Tests are exempt
  // from the function limit (a test is a scenario); the run's phases are held shorter still.
  {
    files: ["**/*.ts"],
    ignores: ["test/**"],
    plugins: { size },
    rules: {
      "size/function-lines-soft": ["warn", { max: 80, ...FUNCTION_LINES }],
      "max-lines-per-function": ["error", { max: 120, ...FUNCTION_LINES }],
      "max-lines": ["error", { max: 450, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ["automation/commands/run/**/*.ts"],
    rules: { "max-lines-per-function": ["error", { max: 60, ...FUNCTION_LINES }] },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "prefer-const": "error",
      eqeqeq: ["error", "always"],
    },
  },
  { files: ["lib/**/*.ts"], rules: upward(["components", "automation", "cli"]) },
  { files: ["components/**/*.ts"], rules: upward(["automation", "cli"]) },
  { files: ["automation/**/*.ts"], rules: upward(["cli"]) },
  // Inside automation: commands (run, audit, warm, doctor, check) use adapters (Pulumi, Docker,
  // Keycloak, HTTP, the registry, leases); an adapter never reaches back into a command.
  { files: ["automation/adapters/**/*.ts"], rules: upward(["cli"], ["commands"]) },
);
