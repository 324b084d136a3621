/** planRun resolves the SSO mode once, from what is asked and what the warm check found; testEnv is exactly the run's values. */
import { ownerId } from "../../lib/naming";
import type { OutputMap } from "@pulumi/pulumi/automation";
import { RunConfig } from "../../lib/config";
import type { ContractRead } from "../../lib/contract";
import { planRun, runVars, type WarmView } from "../../lib/runPlan";
import { testEnv } from "../../automation/commands/run/tests";

const proxy = {
  domain: "ci.example.org",
  networks: ["proxy_0", "proxy_1"],
  entrypoints: { web: "web", webSecure: "web-secure" },
  scheme: "http" as const,
  httpPort: 8080,
  httpsPort: 8443,
  defaultRuleSyntax: "v2" as const,
};
const keycloak = {
  publicUrl: "http://kc.ci.example.org:8080",
  adminUrl: "http://127.0.0.1:8180",
  provisioning: { realm: "master", clientId: "p", clientSecret: "s" },
  service: "ccci_warm_keycloak",
  realmPool: 0,
};
const ok = (kc = true): ContractRead => ({
  ok: true,
  proxy,
  keycloak: kc ? keycloak : undefined,
  problems: [],
});
const config = (over: Record<string, unknown> = {}) =>
  RunConfig.parse({
    role: "run",
    runId: "sso-abc123",
    recipeDir: "/r/sso",
    proxyNetwork: "proxy_1",
    ...over,
  });

describe("planRun: SSO", () => {
  test.each<[string, string, WarmView, string, RegExp | null]>([
    ["auto, healthy warm Keycloak", "auto", { read: ok(), keycloakHealthy: true }, "warm", null],
    [
      "auto, warm Keycloak not answering",
      "auto",
      { read: ok(), keycloakHealthy: false },
      "cold",
      /does not answer/,
    ],
    [
      "auto, warm Keycloak answering but unable to make realms",
      "auto",
      { read: ok(), keycloakHealthy: false, keycloakProblem: "listing realms failed: 400" },
      "cold",
      /no usable warm Keycloak \(listing realms failed: 400\); falling back to a cold Keycloak/,
    ],
    [
      "auto, warm stack without Keycloak",
      "auto",
      { read: ok(false), keycloakHealthy: false },
      "cold",
      /no Keycloak/,
    ],
    ["auto, no warm stack", "auto", { keycloakHealthy: false }, "cold", /no warm stack/],
    ["cold even with a warm Keycloak", "cold", { read: ok(), keycloakHealthy: true }, "cold", null],
    ["off", "off", { read: ok(), keycloakHealthy: true }, "off", null],
    ["warm, healthy", "warm", { read: ok(), keycloakHealthy: true }, "warm", null],
  ])("%s → %s", (_, sso, warm, mode, note) => {
    const plan = planRun(config({ sso }), warm);
    expect(plan.sso.mode).toBe(mode);
    if (note) expect(plan.notes.join("\n")).toMatch(note);
  });

  test("warm when the warm Keycloak cannot be used is refused, saying why", () => {
    expect(() => planRun(config({ sso: "warm" }), { read: ok(), keycloakHealthy: false })).toThrow(
      /warm SSO was asked for.*does not answer/,
    );
    expect(() => planRun(config({ sso: "warm" }), { keycloakHealthy: false })).toThrow(/no warm stack/);
  });

  test("an unusable warm stack: the run brings its own Traefik on its own network and ports", () => {
    const plan = planRun(config({ traefik: { httpPort: 18080, httpsPort: 18443 }, domain: "ci.local" }), {
      read: { ok: false, problems: [{ path: "contractVersion", message: "old" }] },
      keycloakHealthy: false,
    });
    expect(plan.proxy).toMatchObject({ own: true, network: "run_sso_abc123_proxy", httpPort: 18080 });
    expect(plan.appUrl).toBe("http://sso-abc123.ci.local:18080");
    expect(plan.notes.join("\n")).toMatch(/contractVersion: old/);
  });

  test("on the warm proxy, the run's network is the slot leased for it, and only one of the proxy's", () => {
    expect(planRun(config(), { read: ok(), keycloakHealthy: true }).proxy).toMatchObject({
      own: false,
      network: "proxy_1",
    });
    expect(() =>
      planRun(config({ proxyNetwork: "run_web_bbbbbb_default" }), { read: ok(), keycloakHealthy: true }),
    ).toThrow(/is not one of the warm proxy's slots/);
    expect(() => planRun(config({ proxyNetwork: undefined }), { read: ok(), keycloakHealthy: true })).toThrow(
      /no slot network of the warm proxy was leased/,
    );
  });

  test("labels: run, recipe, stack, namespace, and the PR, ref and owner when given", () => {
    const plan = planRun(config({ pr: 12, ref: "abc", owner: ownerId("file:///var/lib/cc-ci/state") }), {
      keycloakHealthy: false,
    });
    expect(plan.labels).toEqual({
      "cc-ci.run": "sso-abc123",
      "cc-ci.recipe": "sso",
      "cc-ci.stack": "run-sso-abc123",
      "com.docker.stack.namespace": "run_sso_abc123",
      "cc-ci.pr": "12",
      "cc-ci.ref": "abc",
      "cc-ci.owner": ownerId("file:///var/lib/cc-ci/state"),
    });
    expect(ownerId("file:///var/lib/cc-ci/state")).toMatch(/^[0-9a-f]{12}$/);
    expect(ownerId("file:///var/lib/cc-ci-e2e/state")).not.toBe(ownerId("file:///var/lib/cc-ci/state"));
  });
});

describe("testEnv", () => {
  const outputs = (o: Record<string, unknown>): OutputMap =>
    Object.fromEntries(Object.entries(o).map(([k, value]) => [k, { value, secret: false }]));
  const realm = {
    oidc: {
      issuer: "http://kc.ci.example.org:8080/realms/sso-abc123",
      clientId: "sso-abc123",
      clientSecret: "cs",
    },
    testUser: { username: "ci-user", password: "pw" },
  };

  test("is exactly the run's CI_* values, nothing of the host's environment", () => {
    process.env.CC_CI_TEST_LEAK = "must-not-leak";
    const env = testEnv(
      outputs(realm),
      planRun(config(), { read: ok(), keycloakHealthy: true }),
      "172.18.0.1",
    );
    delete process.env.CC_CI_TEST_LEAK;
    expect(Object.keys(env).every((k) => k.startsWith("CI_"))).toBe(true);
    expect(env).toMatchObject({
      CI_RUN_ID: "sso-abc123",
      CI_STACK: "run-sso-abc123",
      CI_STACK_NAME: "run_sso_abc123",
      CI_DOMAIN: "sso-abc123.ci.example.org",
      CI_APP_URL: "http://sso-abc123.ci.example.org:8080",
      CI_CURL_RESOLVE: "sso-abc123.ci.example.org:8080:172.18.0.1",
      CI_KEYCLOAK_CURL_RESOLVE: "kc.ci.example.org:8080:172.18.0.1",
      CI_PROXY_HTTP_PORT: "8080",
      CI_PROXY_HTTPS_PORT: "8443",
      CI_OIDC_ISSUER: realm.oidc.issuer,
      CI_OIDC_DISCOVERY_URL: `${realm.oidc.issuer}/.well-known/openid-configuration`,
      CI_OIDC_REALM: "sso-abc123",
      CI_OIDC_CLIENT_ID: "sso-abc123",
      CI_OIDC_CLIENT_SECRET: "cs",
      CI_TEST_USER: "ci-user",
      CI_TEST_PASSWORD: "pw",
      CI_KEYCLOAK_URL: "http://kc.ci.example.org:8080",
    });
    expect(Object.values(env).join("\n")).not.toContain("must-not-leak");
  });

  test("without SSO, no OIDC, Keycloak or test user values at all", () => {
    const env = testEnv(outputs({}), planRun(config({ sso: "off" }), { read: ok(), keycloakHealthy: true }));
    expect(Object.keys(env).filter((k) => /OIDC|KEYCLOAK|TEST_/.test(k))).toEqual([]);
    expect(env.CI_APP_URL).toBe("http://sso-abc123.ci.example.org:8080");
  });

  test("a variant and the fast path are told to the recipe and its tests (CI_VARIANT, CI_QUICK), and labelled", () => {
    const view = { read: ok(), keycloakHealthy: true };
    const plain = runVars(planRun(config(), view), "ci-user");
    expect([plain.CI_VARIANT, plain.CI_QUICK]).toEqual([undefined, undefined]);
    const plan = planRun(config({ variant: "smtp", quick: true }), view);
    const vars = testEnv(outputs({}), plan);
    expect([vars.CI_VARIANT, vars.CI_QUICK]).toEqual(["smtp", "1"]);
    expect(plan.labels["cc-ci.variant"]).toBe("smtp");
  });

  test("the recipe sees the secret values as placeholders, filled in at deploy", () => {
    const vars = runVars(planRun(config(), { read: ok(), keycloakHealthy: true }), "ci-user");
    expect(vars.CI_OIDC_CLIENT_SECRET).toMatch(/^@@cc-ci-secret:CI_OIDC_CLIENT_SECRET@@$/);
    expect(vars.CI_TEST_PASSWORD).toMatch(/^@@cc-ci-secret:CI_TEST_PASSWORD@@$/);
  });
});
