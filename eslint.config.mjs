import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
    files: ["scripts/dev/**/*.js"],
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
