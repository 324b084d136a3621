/** The image registry workers pull through: its settings, the names it serves, what the warm stack declares. */
import { parseStackConfig, type WarmConfig } from "../../lib/config";
import { ValidationError } from "../../lib/errors";
import { hubName } from "../../lib/registry";
import { registryConfigFile } from "../../components/registry";
import { declareStack, ofType, promiseOf, type MockWorld } from "../helpers/mocks";

function problems(registry: unknown): string[] {
  try {
    parseStackConfig({ "cc-ci:registry": JSON.stringify(registry) }, "warm");
  } catch (e) {
    if (e instanceof ValidationError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

describe("image names as a registry mirror serves them", () => {
  test.each([
    ["postgres:15", "library/postgres", "15"],
    ["postgres", "library/postgres", "latest"],
    ["cc-ci/whoami:1", "cc-ci/whoami", "1"],
    ["docker.io/library/nginx:1.27", "library/nginx", "1.27"],
    ["index.docker.io/traefik/whoami:v1.10", "traefik/whoami", "v1.10"],
    ["docker.io/nginx", "library/nginx", "latest"],
  ])("%s is %s:%s", (image, repository, tag) => {
    expect(hubName(image)).toEqual({ repository, tag });
  });

  test.each([
    ["quay.io/keycloak/keycloak:26", /not of Docker Hub/],
    ["localhost:5000/x:1", /not of Docker Hub/],
    ["localhost/x:1", /not of Docker Hub/],
    ["postgres@sha256:" + "a".repeat(64), /digest/],
    ["Postgres:15", /not an image reference/],
    ["postgres:", /not an image reference/],
    ["../etc:1", /not an image reference/],
  ])("%s is refused", (image, why) => {
    const n = hubName(image);
    expect("problem" in n && n.problem).toMatch(why);
  });
});

describe("registry settings", () => {
  test("off by default; the committed Pulumi.warm.yaml leaves it off", () => {
    expect((parseStackConfig({}, "warm") as WarmConfig).registry.enabled).toBe(false);
  });

  test("enabled needs the address workers reach it at, and only a private one", () => {
    expect(problems({ enabled: true })).toEqual([expect.stringMatching(/^registry\.address: required/)]);
    for (const a of ["0.0.0.0", "8.8.8.8", "172.32.0.1", "192.169.0.1"])
      expect(problems({ enabled: true, address: a })).toEqual([
        expect.stringMatching(/^registry\.address: must be a private address .*without authentication/),
      ]);
    for (const a of ["10.213.0.1", "172.16.5.4", "192.168.1.2", "100.64.0.1"])
      expect(problems({ enabled: true, address: a })).toEqual([]);
    expect(problems({ enabled: true, address: "10.0.0.1:5000" })).toHaveLength(1);
  });

  test("a seed names Docker Hub images, and a pull-through cache takes none", () => {
    expect(problems({ seed: ["quay.io/x/y:1", "ok:1"] })).toEqual([
      expect.stringMatching(/^registry\.seed\[0\]: .*not of Docker Hub/),
    ]);
    expect(
      problems({ enabled: true, address: "10.0.0.1", pullThrough: "https://r.example.org", seed: ["a:1"] }),
    ).toEqual([expect.stringMatching(/^registry\.seed: a pull-through cache takes no pushes/)]);
    expect(problems({ pullThrough: "ftp://r.example.org" })).toHaveLength(1);
  });

  test("its configuration file: storage on the volume, deletes on (garbage collection), proxy only for a cache", () => {
    const parse = (r: unknown) =>
      (parseStackConfig({ "cc-ci:registry": JSON.stringify(r) }, "warm") as WarmConfig).registry;
    const seeded = registryConfigFile(parse({ enabled: true, address: "10.0.0.1" }));
    expect(seeded).toMatch(/rootdirectory: \/var\/lib\/registry/);
    expect(seeded).toMatch(/delete:\n {4}enabled: true/);
    expect(seeded).not.toMatch(/proxy:/);
    const cache = registryConfigFile(
      parse({ enabled: true, address: "10.0.0.1", pullThrough: "https://r.example.org" }),
    );
    expect(cache).toMatch(/proxy:\n {2}remoteurl: "https:\/\/r\.example\.org"/);
  });
});

describe("the warm stack's registry", () => {
  test("none unless enabled", async () => {
    const world: MockWorld = { declared: [] };
    const outputs = await declareStack(world, "warm", {});
    expect(ofType(world, "docker:index/container:Container").map((c) => c.inputs.name)).not.toContain(
      "ccci_warm_registry",
    );
    expect(outputs.registry).toBeUndefined();
  });

  test("a container on the manager, published on 127.0.0.1 and the private address only, its storage on a labelled volume", async () => {
    const world: MockWorld = { declared: [] };
    const outputs = await declareStack(world, "warm", {
      registry: { enabled: true, address: "10.213.0.1", port: 5055, seed: ["cc-ci/whoami:1"] },
    });
    const c = ofType(world, "docker:index/container:Container").find(
      (d) => d.inputs.name === "ccci_warm_registry",
    )?.inputs as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(c).toBeDefined();
    expect(c.ports).toEqual([
      expect.objectContaining({ internal: 5000, external: 5055, ip: "127.0.0.1" }),
      expect.objectContaining({ internal: 5000, external: 5055, ip: "10.213.0.1" }),
    ]);
    expect(c.volumes).toEqual([expect.objectContaining({ containerPath: "/var/lib/registry" })]);
    expect(c.memory).toBe(256);
    const bridge = ofType(world, "docker:index/network:Network").find(
      (n) => n.inputs.name === "ccci_warm_registry",
    );
    expect(bridge?.inputs).toMatchObject({
      driver: "bridge",
      options: { "com.docker.network.bridge.enable_icc": "false" },
    });
    const vol = ofType(world, "docker:index/volume:Volume").find(
      (v) => v.inputs.name === "ccci_warm_registry",
    );
    expect(vol?.inputs.labels).toEqual(expect.arrayContaining([{ label: "cc-ci.layer", value: "warm" }]));
    expect(await promiseOf(outputs.registry)).toMatchObject({
      push: "127.0.0.1:5055",
      mirror: "http://10.213.0.1:5055",
      seed: ["cc-ci/whoami:1"],
      pullThrough: false,
      diskBudgetBytes: 20 * 2 ** 30,
    });
  });
});
