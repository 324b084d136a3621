/** What a run stack declares: realm, labels, router rules, OIDC wiring, and the cold fallback. */
import * as pulumi from "@pulumi/pulumi";
import { declareStack, settle, ofType, labelMap, promiseOf, type MockWorld } from "../helpers/mocks";
import { fixture } from "../helpers/recipes";
import { ValidationError } from "../../lib/errors";
import { handOutputs, OUTPUTS_FILE_ENV, takeHandedOutputs } from "../../lib/handedOutputs";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const WARM = {
  proxy: {
    domain: "ci.example.org",
    networks: ["proxy_0", "proxy_1"],
    entrypoints: { web: "web", webSecure: "web-secure" },
    scheme: "http",
    httpPort: 80,
    httpsPort: 443,
  },
  keycloak: {
    publicUrl: "http://warm-keycloak.ci.example.org",
    adminUrl: "http://127.0.0.1:8180",
    provisioning: { realm: "master", clientId: "cc-ci-provisioner", clientSecret: "provisioning-secret" },
    service: "ccci_warm_keycloak",
  },
};

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A run stack as cc-ci configures it: the warm contract's proxy and (when used) Keycloak in its config. */
async function runStack(
  config: Record<string, unknown>,
  warm: { proxy?: unknown; keycloak?: unknown } = WARM,
) {
  const world: MockWorld = { declared: [] };
  const outputs = (await declareStack(world, "run-sso-abc123", {
    runId: "sso-abc123",
    recipeDir: fixture("sso"),
    oidcClientSecret: "oidc_client_secret",
    ...(warm.proxy ? { warmProxy: warm.proxy, proxyNetwork: "proxy_1" } : {}),
    ...(warm.keycloak ? { warmKeycloak: warm.keycloak } : {}),
    ...config,
  })) as Any;
  return { world, outputs };
}

/** The value the mock generated for the run's OIDC client secret. */
function clientSecret(world: MockWorld): string {
  return world.generated?.["run-realm-client-secret"] as string;
}

function dockerObjects(world: MockWorld) {
  return world.declared.filter((d) => d.type.startsWith("docker:index/"));
}

describe("run stack on the warm layer", () => {
  let world: MockWorld;
  let outputs: Any;
  beforeAll(async () => {
    ({ world, outputs } = await runStack({ pr: 12, ref: "0123abcd" }));
  });

  test("adopts the run's realm, within Keycloak's 36 characters, on the warm Keycloak", () => {
    // On the warm Keycloak the realm is an AdoptedRealm (cc-ci makes it first, the stack owns it).
    expect(ofType(world, "keycloak:index/realm:Realm")).toHaveLength(0);
    const realms = ofType(world, "pulumi-nodejs:dynamic/cc-ci:AdoptedRealm");
    expect(realms).toHaveLength(1);
    const rep = realms[0].inputs.representation as Any;
    expect(rep).toEqual({
      realm: "sso-abc123",
      enabled: true,
      displayName: "cc-ci run sso-abc123",
      attributes: { "cc-ci.run": "sso-abc123" },
      sslRequired: "none",
    });
    expect(String(rep.realm).length).toBeLessThanOrEqual(36);
    // The provisioning identity it uses is a secret in the state.
    expect(realms[0].inputs.identity).toMatchObject({
      adminUrl: "http://127.0.0.1:8180",
      clientId: "cc-ci-provisioner",
    });
    expect(realms[0].secretPaths).toContain("identity");
    // The client and the user live in the adopted realm.
    expect(ofType(world, "keycloak:openid/client:Client")[0].inputs.realmId).toBe("sso-abc123");
    expect(ofType(world, "keycloak:index/user:User")[0].inputs.realmId).toBe("sso-abc123");
    const providers = ofType(world, "pulumi:providers:keycloak");
    expect(providers).toHaveLength(1);
    expect(providers[0].inputs).toMatchObject({
      url: "http://127.0.0.1:8180",
      clientId: "cc-ci-provisioner",
      realm: "master",
    });
    expect(
      ofType(world, "docker:index/service:Service").some((s) => String(s.inputs.name).includes("keycloak")),
    ).toBe(false);
  });

  test("gives the OIDC client the run domain's redirects and a test user", () => {
    const client = ofType(world, "keycloak:openid/client:Client")[0].inputs;
    expect(client.validRedirectUris).toEqual(["http://sso-abc123.ci.example.org/*"]);
    expect(client.accessType).toBe("CONFIDENTIAL");
    const user = ofType(world, "keycloak:index/user:User")[0].inputs;
    expect(user).toMatchObject({ username: "ci-user", emailVerified: true });
    expect((user.initialPassword as Any).temporary).toBe(false);
  });

  test("labels every Docker object with the run id", () => {
    const objects = dockerObjects(world);
    expect(objects.length).toBeGreaterThanOrEqual(2);
    for (const d of objects) {
      expect(labelMap(d.inputs.labels)).toMatchObject({
        "cc-ci.run": "sso-abc123",
        "cc-ci.recipe": "sso",
        "cc-ci.pr": "12",
        "cc-ci.ref": "0123abcd",
      });
    }
    const svc = ofType(world, "docker:index/service:Service")[0].inputs;
    expect(labelMap(svc.taskSpec.containerSpec.labels)["cc-ci.run"]).toBe("sso-abc123");
  });

  test("routes the recipe on the run's domain, on the warm proxy network", () => {
    const svc = ofType(world, "docker:index/service:Service")[0].inputs;
    expect(svc.name).toBe("run_sso_abc123_app");
    const labels = labelMap(svc.labels);
    expect(labels["traefik.http.routers.run_sso_abc123.rule"]).toBe("Host(`sso-abc123.ci.example.org`)");
    expect(labels["traefik.swarm.network"]).toBe("proxy_1");
    expect(svc.taskSpec.networksAdvanceds).toEqual([{ id: "id-of-proxy_1" }]);
  });

  test("hands the realm's OIDC values to the recipe before its deploy", () => {
    const svc = ofType(world, "docker:index/service:Service")[0].inputs;
    const env = svc.taskSpec.containerSpec.env;
    expect(env.OIDC_ISSUER).toBe("http://warm-keycloak.ci.example.org/realms/sso-abc123");
    expect(env.OIDC_CLIENT_ID).toBe("sso-abc123");
    expect(clientSecret(world)).toHaveLength(40);
    expect(env.OIDC_CLIENT_SECRET).toBe(clientSecret(world));
    const secret = ofType(world, "docker:index/secret:Secret")[0];
    expect(Buffer.from(String(secret.inputs.data), "base64").toString()).toBe(clientSecret(world));
    expect(secret.secretPaths).toContain("data");
  });

  test("waits up to the deploy timeout for the recipe's services", async () => {
    const svc = ofType(world, "docker:index/service:Service")[0].inputs;
    expect(svc.convergeConfig).toEqual({ delay: "2s", timeout: "10m" });
    const short = await runStack({ deployTimeout: 45 });
    expect(ofType(short.world, "docker:index/service:Service")[0].inputs.convergeConfig.timeout).toBe("45s");
  });

  test("with waitForServices false (as cc-ci run sets it), up leaves the waiting to the converge phase", async () => {
    const detached = await runStack({ waitForServices: false });
    const svc = ofType(detached.world, "docker:index/service:Service")[0].inputs;
    expect(svc.convergeConfig).toBeUndefined();
  });

  test("exports the run's values, secrets kept secret", async () => {
    expect(outputs.appUrl).toBe("http://sso-abc123.ci.example.org");
    expect(outputs.sso).toBe("warm");
    expect(await promiseOf(outputs.oidc.clientSecret)).toBe(clientSecret(world));
    expect(await pulumi.isSecret(outputs.oidc.clientSecret)).toBe(true);
    expect(await pulumi.isSecret(outputs.testUser.password)).toBe(true);
  });

  test("hands its outputs to cc-ci at the end of an up: resolved, secrets in clear, the file private and taken once", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "handed-"));
    try {
      const file = path.join(dir, "run-outputs.json");
      handOutputs(outputs, { [OUTPUTS_FILE_ENV]: file });
      await promiseOf(pulumi.output(outputs));
      await settle();
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const handed = takeHandedOutputs(file) as Any;
      expect(existsSync(file)).toBe(false);
      expect(handed.appUrl).toBe("http://sso-abc123.ci.example.org");
      expect(handed.oidc.clientSecret).toBe(clientSecret(world));
      expect(handed.masks).toContain(clientSecret(world));
      expect(handed.services).toEqual(await promiseOf(pulumi.output(outputs.services)));
      expect(takeHandedOutputs(file)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("cold fallback", () => {
  test("deploys its own Keycloak when the warm stack has none", async () => {
    const { world, outputs } = await runStack({}, { ...WARM, keycloak: undefined });
    expect(outputs.sso).toBe("cold");
    const kc = ofType(world, "docker:index/service:Service").find(
      (s) => s.inputs.name === "run_sso_abc123_keycloak",
    );
    expect(kc).toBeDefined();
    expect(labelMap(kc?.inputs.labels)["cc-ci.run"]).toBe("sso-abc123");
    expect(labelMap(kc?.inputs.labels)["traefik.http.routers.run_sso_abc123-keycloak.rule"]).toBe(
      "Host(`keycloak.sso-abc123.ci.example.org`) && !PathPrefix(`/admin`) && !PathPrefix(`/realms/master`)",
    );
    const providers = ofType(world, "pulumi:providers:keycloak");
    expect(providers[0].inputs).toMatchObject({ clientId: "admin-cli", realm: "master" });
    const env = ofType(world, "docker:index/service:Service").find(
      (s) => s.inputs.name === "run_sso_abc123_app",
    )?.inputs.taskSpec.containerSpec.env;
    expect(env.OIDC_ISSUER).toBe("http://keycloak.sso-abc123.ci.example.org/realms/sso-abc123");
  });

  test("refuses an incomplete warm Keycloak contract in its config, naming the missing field", async () => {
    const broken = { ...WARM, keycloak: { ...WARM.keycloak, provisioning: { realm: "master" } } };
    await expect(runStack({}, broken)).rejects.toThrow(/warmKeycloak\.provisioning\.clientId/);
  });

  test("brings its own Traefik, routing only its run, without a warm stack", async () => {
    const { world, outputs } = await runStack(
      { domain: "ci.local", traefik: { httpPort: 18080, httpsPort: 18443 } },
      {},
    );
    expect(outputs.sso).toBe("cold");
    expect(outputs.appUrl).toBe("http://sso-abc123.ci.local:18080");
    const traefik = ofType(world, "docker:index/service:Service").find(
      (s) => s.inputs.name === "run_sso_abc123_traefik",
    );
    expect(traefik?.inputs.taskSpec.containerSpec.args).toContain(
      "--providers.swarm.constraints=Label(`cc-ci.run`,`sso-abc123`)",
    );
    expect(ofType(world, "docker:index/network:Network").map((n) => n.inputs.name)).toContain(
      "run_sso_abc123_proxy",
    );
  });

  test("refuses sso=warm when the warm Keycloak is unusable", async () => {
    await expect(runStack({ sso: "warm" }, { ...WARM, keycloak: undefined })).rejects.toThrow(
      /warm SSO was asked for/,
    );
  });

  test("declares no realm with sso=off", async () => {
    const { world } = await runStack({ sso: "off", oidcClientSecret: undefined });
    expect(ofType(world, "keycloak:index/realm:Realm")).toHaveLength(0);
  });
});

describe("bad input", () => {
  test("lists every config problem by path before declaring anything", async () => {
    const world: MockWorld = { declared: [] };
    const err = await declareStack(world, "run-sso-abc123", {
      runId: "SSO_1",
      recipeDir: "relative/path",
      sso: "sometimes",
      traefik: { httpPort: 0, colour: "blue" },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    const paths = (err as ValidationError).problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining(["runId", "recipeDir", "sso", "traefik.httpPort", "traefik"]),
    );
    await settle();
    expect(world.declared).toHaveLength(0);
  });

  test("rejects a broken recipe before declaring any resource", async () => {
    const world: MockWorld = { declared: [] };
    await expect(
      declareStack(world, "run-brok-abc123", {
        runId: "brok-abc123",
        recipeDir: fixture("broken-policy"),
        recipe: "broken-policy",
        warmProxy: WARM.proxy,
        proxyNetwork: "proxy_0",
      }),
    ).rejects.toThrow(/privileged/);
    await settle();
    expect(world.declared).toHaveLength(0);
  });

  test("rejects a run id that is not the recipe's", async () => {
    const world: MockWorld = { declared: [] };
    await expect(
      declareStack(world, "run-web-abc123", { runId: "webx-abc123", recipeDir: fixture("web") }),
    ).rejects.toThrow(/expected web-abc123/);
  });
});

describe("a run across swarm nodes", () => {
  test("a volume mount carries the run's labels, so a node that makes its own copy of the volume labels it", async () => {
    const world: MockWorld = { declared: [] };
    await declareStack(world, "run-full-abc123", {
      runId: "full-abc123",
      recipeDir: fixture("full"),
      sso: "off",
      warmProxy: WARM.proxy,
      proxyNetwork: "proxy_1",
      placement: ["node.role == worker"],
    });
    const services = ofType(world, "docker:index/service:Service").map((s) => s.inputs as Any);
    const mounts = services.flatMap((s) => (s.taskSpec.containerSpec.mounts ?? []) as Any[]);
    const volumes = mounts.filter((m) => m.type === "volume");
    expect(volumes.length).toBeGreaterThanOrEqual(2);
    for (const m of volumes) {
      expect(labelMap(m.volumeOptions.labels)).toMatchObject({ "cc-ci.run": "full-abc123" });
    }
    // The operator's placement on every service, after the recipe's own (none here).
    for (const s of services) expect(s.taskSpec.placement.constraints).toEqual(["node.role == worker"]);
  });
});
