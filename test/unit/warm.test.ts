/** What the warm stack declares: services, host-mode ports, the proxy network, labels, secrets. */
import * as pulumi from "@pulumi/pulumi";
import { declareStack, ofType, labelMap, promiseOf, type MockWorld } from "../helpers/mocks";
import { WarmOutputs } from "../../lib/contract";

async function runWarm(config: Record<string, unknown> = {}) {
  const world: MockWorld = { declared: [] };
  const outputs = await declareStack(world, "warm", config);
  return { world, outputs };
}

function service(world: MockWorld, suffix: string) {
  const s = ofType(world, "docker:index/service:Service").find((d) => d.name.endsWith(suffix));
  if (!s) throw new Error(`no service ${suffix}; declared: ${world.declared.map((d) => d.name).join(", ")}`);
  return s.inputs as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe("warm stack", () => {
  test("declares Traefik with host-mode ports, on Keycloak's network and every slot network from the start", async () => {
    const { world } = await runWarm({
      domain: "ci.example.org",
      slots: 3,
      traefik: { httpPort: 8080, httpsPort: 8443 },
    });
    const nets = ofType(world, "docker:index/network:Network").map((n) => n.inputs);
    for (const name of ["proxy_0", "proxy_1", "proxy_2", "ccci_warm_edge"])
      expect(nets.find((n) => n.name === name)).toMatchObject({ driver: "overlay", attachable: true });
    const traefik = service(world, "traefik-service");
    expect(traefik.taskSpec.networksAdvanceds).toHaveLength(5); // edge, 3 slots, the Docker API's network
    expect(traefik.endpointSpec.ports).toEqual([
      expect.objectContaining({ targetPort: 80, publishedPort: 8080, publishMode: "host" }),
      expect.objectContaining({ targetPort: 443, publishedPort: 8443, publishMode: "host" }),
    ]);
    const args: string[] = traefik.taskSpec.containerSpec.args;
    expect(args).toEqual(
      expect.arrayContaining([
        "--providers.swarm=true",
        "--providers.swarm.exposedByDefault=false",
        "--entrypoints.web.address=:80",
        "--entrypoints.web-secure.address=:443",
        "--core.defaultRuleSyntax=v2",
        // Ping only on Traefik's own loopback: no run can reach it.
        "--entrypoints.ping.address=127.0.0.1:8082",
      ]),
    );
    expect(args.filter((a) => /^--api/.test(a))).toEqual([]);
  });

  test("Traefik reads the swarm through a read-only API proxy, never the Docker socket itself", async () => {
    const { world } = await runWarm();
    const traefik = service(world, "traefik-service");
    expect(traefik.taskSpec.containerSpec.mounts ?? []).toEqual([]);
    expect(traefik.taskSpec.containerSpec.args).toContain(
      "--providers.swarm.endpoint=tcp://ccci_warm_docker_api:2375",
    );
    const api = service(world, "traefik-api");
    expect(api.name).toBe("ccci_warm_docker_api");
    expect(api.taskSpec.containerSpec.mounts).toEqual([
      expect.objectContaining({ source: "/var/run/docker.sock", readOnly: true }),
    ]);
    expect(api.endpointSpec).toEqual({ mode: "dnsrr" }); // publishes nothing
    const cfg = ofType(world, "docker:index/serviceConfig:ServiceConfig").find((c) =>
      /docker_api_cfg/.test(c.inputs.name),
    );
    const text = Buffer.from(String(cfg?.inputs.data), "base64").toString();
    expect(text).toMatch(/http-request deny deny_status 403 unless read_method traefik_swarm/);
    const apiNet = ofType(world, "docker:index/network:Network").find(
      (n) => n.inputs.name === "ccci_warm_docker_api",
    );
    expect(apiNet?.inputs).toMatchObject({ internal: true });
  });

  test("declares Keycloak and PostgreSQL with secrets from files, health checks and Traefik labels", async () => {
    const { world } = await runWarm({
      domain: "ci.example.org",
      keycloak: { hostname: "sso", adminPort: 9180 },
    });
    const kc = service(world, "keycloak-service");
    const env = kc.taskSpec.containerSpec.env as Record<string, string>;
    expect(env.KC_HOSTNAME).toBe("http://sso.ci.example.org");
    expect(Object.keys(env).some((k) => /PASSWORD/.test(k))).toBe(false);
    expect(kc.taskSpec.containerSpec.secrets.map((s: { fileName: string }) => s.fileName).sort()).toEqual([
      "admin_password",
      "db_password",
    ]);
    expect(kc.taskSpec.containerSpec.healthcheck.tests.slice(0, 3)).toEqual(["CMD", "bash", "-c"]);
    const labels = labelMap(kc.labels);
    expect(labels["traefik.enable"]).toBe("true");
    // The admin console and the master realm are not routed.
    expect(Object.entries(labels).find(([k]) => k.endsWith(".rule"))?.[1]).toBe(
      "Host(`sso.ci.example.org`) && !PathPrefix(`/admin`) && !PathPrefix(`/realms/master`)",
    );
    // On Keycloak's own network with Traefik, not on any run's slot.
    expect(labels["traefik.swarm.network"]).toBe("ccci_warm_edge");
    expect(kc.convergeConfig).toBeDefined();

    const db = service(world, "keycloak-db");
    expect(db.taskSpec.containerSpec.env.POSTGRES_PASSWORD_FILE).toBe("/run/secrets/db_password");
    expect(db.taskSpec.containerSpec.healthcheck.tests).toEqual([
      "CMD-SHELL",
      "pg_isready -U keycloak -d keycloak",
    ]);
    expect(db.taskSpec.containerSpec.mounts[0]).toMatchObject({
      type: "volume",
      target: "/var/lib/postgresql/data",
    });
  });

  test("the warm services are checked every healthcheckSeconds (30 by default), unhealthy after as long as before", async () => {
    const health = (world: MockWorld, suffix: string) =>
      service(world, suffix).taskSpec.containerSpec.healthcheck;
    const byDefault = (await runWarm({ postgres: { enabled: true }, s3: { enabled: true } })).world;
    const fast = (
      await runWarm({ healthcheckSeconds: 10, postgres: { enabled: true }, s3: { enabled: true } })
    ).world;
    // [service, give up after (s)]: Keycloak 5 min, its database and PostgreSQL 1, S3 2, Traefik 50 s.
    const parts: [string, number][] = [
      ["keycloak-service", 300],
      ["keycloak-db", 60],
      ["postgres-service", 60],
      ["s3-service", 120],
      ["traefik-service", 50],
    ];
    for (const [suffix, giveUp] of parts) {
      expect(health(fast, suffix)).toMatchObject({ interval: "10s", retries: Math.ceil(giveUp / 10) });
      expect(health(byDefault, suffix)).toMatchObject({
        interval: "30s",
        retries: Math.max(3, Math.ceil(giveUp / 30)),
      });
    }
    await expect(runWarm({ healthcheckSeconds: 0 })).rejects.toThrow(/healthcheckSeconds/);
  });

  test("Keycloak's admin port is published on 127.0.0.1 only, by a gateway on a bridge of its own", async () => {
    const { world } = await runWarm({ keycloak: { adminPort: 9180 } });
    expect(service(world, "keycloak-service").endpointSpec).toEqual({ mode: "dnsrr" });
    const [gw] = ofType(world, "docker:index/container:Container");
    expect(gw.inputs.ports).toEqual([{ internal: 8080, external: 9180, ip: "127.0.0.1", protocol: "tcp" }]);
    expect(gw.inputs.envs).toContain("TARGET=ccci_warm_keycloak:8080");
    const bridge = ofType(world, "docker:index/network:Network").find(
      (n) => n.inputs.name === "ccci_warm_keycloak_gw",
    );
    expect(bridge?.inputs).toMatchObject({
      driver: "bridge",
      options: { "com.docker.network.bridge.enable_icc": "false" },
    });
    expect(gw.inputs.networksAdvanced.map((n: { name: string }) => n.name)).toEqual([
      "ccci_warm_keycloak_gw",
      "ccci_warm_keycloak_admin",
    ]);
    const { world: none } = await runWarm({
      keycloak: { adminPort: null, adminUrl: "http://kc-admin.internal:8080" },
    });
    expect(ofType(none, "docker:index/container:Container")).toEqual([]);
  });

  test("labels every Docker object as the warm layer's", async () => {
    const { world } = await runWarm();
    const dockerObjects = world.declared.filter((d) => d.type.startsWith("docker:index/"));
    expect(dockerObjects.length).toBeGreaterThanOrEqual(7);
    for (const d of dockerObjects) expect(labelMap(d.inputs.labels)["cc-ci.layer"]).toBe("warm");
  });

  test("keeps generated passwords secret and exports the contract run stacks read", async () => {
    const { world, outputs } = await runWarm();
    const secrets = ofType(world, "docker:index/secret:Secret");
    expect(secrets).toHaveLength(2);
    const contract = WarmOutputs.parse({
      contractVersion: await promiseOf(outputs.contractVersion),
      proxy: await promiseOf(outputs.proxy),
      keycloak: await promiseOf(outputs.keycloak),
    });
    expect(contract.keycloak?.provisioning.clientId).toBe("cc-ci-provisioner");
    expect(contract.keycloak?.adminUrl).toBe("http://127.0.0.1:8180");
    expect(await pulumi.isSecret(outputs.keycloak as pulumi.Output<unknown>)).toBe(true);
    // Need to know: the master admin's password stays in the warm stack's state, out of its outputs.
    expect(Object.keys(outputs).sort()).toEqual(["contractVersion", "keycloak", "proxy"]);
    expect(JSON.stringify(await promiseOf(pulumi.output(outputs)))).not.toContain(
      world.generated?.["warm-keycloak-admin-password"] as string,
    );
  });

  test("with keycloak.enabled false, a warm Traefik alone: no Keycloak, no database, no Keycloak in the contract", async () => {
    const { world, outputs } = await runWarm({ keycloak: { enabled: false } });
    const names = ofType(world, "docker:index/service:Service").map((s) => String(s.inputs.name));
    expect(names.sort()).toEqual(["ccci_warm_docker_api", "ccci_warm_traefik"]);
    expect(ofType(world, "pulumi:providers:keycloak")).toEqual([]);
    expect(Object.keys(outputs).sort()).toEqual(["contractVersion", "proxy"]);
    const contract = WarmOutputs.parse({
      contractVersion: await promiseOf(outputs.contractVersion),
      proxy: await promiseOf(outputs.proxy),
    });
    expect(contract.keycloak).toBeUndefined();
  });

  test("grants the provisioning client create-realm only", async () => {
    const { world } = await runWarm();
    const roles = ofType(
      world,
      "keycloak:openid/clientServiceAccountRealmRole:ClientServiceAccountRealmRole",
    );
    expect(roles.map((r) => r.inputs.role)).toEqual(["create-realm"]);
    const client = ofType(world, "keycloak:openid/client:Client")[0].inputs;
    expect(client).toMatchObject({
      realmId: "master",
      serviceAccountsEnabled: true,
      standardFlowEnabled: false,
      accessType: "CONFIDENTIAL",
    });
  });

  test("raises the keycloak provider's client timeout", async () => {
    const { world } = await runWarm();
    const provider = ofType(world, "pulumi:providers:keycloak")[0];
    expect(Number(provider.inputs.clientTimeout)).toBeGreaterThanOrEqual(60);
  });
});
