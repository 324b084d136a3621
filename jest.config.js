/** Two projects: fast unit tests (Pulumi runtime mocks, pure logic) and end-to-end tests against the
 * real Docker swarm, Keycloak, Traefik and Pulumi engine (prepared by scripts/env/setup.sh). */
const tsJest = ["ts-jest", { tsconfig: "tsconfig.json", diagnostics: { warnOnly: false } }];
module.exports = {
  // The end-to-end files share one swarm, one warm layer and one state backend: one file at a time
  // (the unit files are quick either way).
  maxWorkers: 1,
  projects: [
    {
      displayName: "unit",
      testEnvironment: "node",
      transform: { "^.+\\.ts$": tsJest },
      testMatch: ["<rootDir>/test/unit/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/unit/setup.ts"],
    },
    {
      displayName: "e2e",
      testEnvironment: "node",
      transform: { "^.+\\.ts$": tsJest },
      testMatch: ["<rootDir>/test/e2e/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/e2e/setup.ts"],
    },
    {
      // A swarm of several nodes (scripts/env/nodes.sh --nodes 3): `npm run test:e2e:multinode`.
      displayName: "multinode",
      testEnvironment: "node",
      transform: { "^.+\\.ts$": tsJest },
      testMatch: ["<rootDir>/test/multinode/**/*.test.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/e2e/setup.ts"],
    },
  ],
};
