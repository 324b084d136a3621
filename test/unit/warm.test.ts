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
  test("declares Traefik with host-mode ports on the proxy network and the swarm provider", async () => {
    const { world } = await runWarm({
      domain: "ci.example.org",
      traefik: { httpPort: 8080, httpsPort: 8443 },
    });
    const net = ofType(world, "docker:index/network:Network").find((n) => n.inputs.name === "proxy");
    expect(net?.inputs).toMatchObject({ driver: "overlay", attachable: true });
    const traefik = service(world, "traefik-service");
    expect(traefik.endpointSpec.ports).toEqual([
      expect.objectContaining({ targetPort: 80, publishedPort: 8080, publishMode: "host" }),
      expect.objectContaining({ targetPort: 443, publishedPort: 8443, publishMode: "host" }),
    ]);
    const args: string[] = traefik.taskSpec.containerSpec.args;
    expect(args).toEqual(
      expect.arrayContaining([
        "--providers.swarm=true",
        "--providers.swarm.exposedByDefault=false",
        "--providers.swarm.network=proxy",
        "--entrypoints.web.address=:80",
        "--entrypoints.web-secure.address=:443",
      ]),
    );
    expect(traefik.taskSpec.containerSpec.mounts).toEqual([
      expect.objectContaining({
        source: "/var/run/docker.sock",
        target: "/var/run/docker.sock",
        readOnly: true,
      }),
    ]);
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
    expect(kc.endpointSpec.ports).toEqual([
      expect.objectContaining({ targetPort: 8080, publishedPort: 9180, publishMode: "host" }),
    ]);
    const labels = labelMap(kc.labels);
    expect(labels["traefik.enable"]).toBe("true");
    expect(Object.entries(labels).find(([k]) => k.endsWith(".rule"))?.[1]).toBe("Host(`sso.ci.example.org`)");
    expect(labels["traefik.swarm.network"]).toBe("proxy");
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

  test("labels every Docker object as the warm layer's", async () => {
    const { world } = await runWarm();
    const dockerObjects = world.declared.filter(
      (d) => d.type.startsWith("docker:index/") && d.type !== "docker:index/serviceConfig:ServiceConfig",
    );
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
