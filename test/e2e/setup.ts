// A Keycloak start on 2 shared cores takes minutes; a test with several runs takes longer.
jest.setTimeout(30 * 60_000);

// Whatever a test did, no agent it spawned outlives it (a failed wait would otherwise leave one running).
// eslint-disable-next-line @typescript-eslint/no-require-imports
afterEach(() => (require("./harness") as typeof import("./harness")).endAgents());
