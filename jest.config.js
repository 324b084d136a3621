/** Two projects: fast unit tests (Pulumi runtime mocks, pure logic) and end-to-end tests against the
 * real Docker swarm, Keycloak, Traefik and Pulumi engine (prepared by scripts/env/setup.sh). */
const tsJest = ["ts-jest", { tsconfig: "tsconfig.json", diagnostics: { warnOnly: false } }];
module.exports = {
  projects: [
    {
      displayName: "unit",
      testEnvironment: "node",
      transform: { "^.+\\.ts$": tsJest },
      testMatch: ["<rootDir>/test/unit/**/*.test.ts"],
      // Generous: closure serialisation of dynamic providers is slow on a loaded 2-core machine.
      testTimeout: 60000,
    },
    {
      displayName: "e2e",
      testEnvironment: "node",
      transform: { "^.+\\.ts$": tsJest },
      testMatch: ["<rootDir>/test/e2e/**/*.test.ts"],
      testTimeout: 1800000,
    },
  ],
};
