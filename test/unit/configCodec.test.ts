/**
 * Settings decoded by the schema's type of each key: a string setting survives whatever it looks like
 * (Pulumi's flat config map as cc-ci run writes it and the program reads it, Pulumi.warm.yaml, the
 * run-defaults file), and numbers, booleans, lists and objects still decode from their text.
 */
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import {
  decodeConfig,
  encodeConfig,
  SECRET_CONFIG_ENV,
  secretConfigFromEnv,
  parseStackConfig,
  readRunDefaults,
  readStackFile,
  RunConfig,
  RunDefaults,
  WarmConfig,
  type RunConfig as Run,
} from "../../lib/config";
import { decodeBySchema, settingsYaml, yamlQuoted, yamlTree } from "../../lib/configCodec";
import { parse as parseYaml } from "yaml";
import { AWKWARD_STRINGS, stringSettings, treeWith, valueAt } from "../helpers/stringSettings";

const RUN_BASE = { runId: "web-abc123", recipeDir: "/r/web" };

function withFile<T>(name: string, text: string, fn: (file: string) => T): T {
  const dir = mkdtempSync(path.join(tmpdir(), "codec-"));
  try {
    writeFileSync(path.join(dir, name), text);
    return fn(path.join(dir, name));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Arbitrary text, the awkward shapes weighted in.
const text = fc.oneof(fc.constantFrom(...AWKWARD_STRINGS), fc.string(), fc.string({ unit: "grapheme" }));

describe("string settings keep their exact text", () => {
  const schemas = { run: RunConfig, warm: WarmConfig } as const;
  for (const [role, schema] of Object.entries(schemas) as ["run" | "warm", typeof RunConfig][]) {
    const places = stringSettings(schema);

    test(`${role}: the schema has free-text places to test (${places.length})`, () => {
      expect(places.map((p) => p.join("."))).toEqual(
        expect.arrayContaining(role === "run" ? ["owner", "recipe", "ref", "env.K"] : ["domain"]),
      );
    });

    test(`${role}: through Pulumi's flat config map (encodeConfig → decodeConfig)`, () => {
      fc.assert(
        fc.property(fc.constantFrom(...places), text, (place, value) => {
          const tree = treeWith(place, value) as Record<string, unknown>;
          const decoded = decodeConfig(
            Object.fromEntries(Object.entries(encodeConfig(tree)).map(([k, v]) => [k, v.value])),
            role,
          );
          expect(valueAt(decoded, place)).toBe(value);
        }),
        { numRuns: 400 },
      );
      // Every awkward shape at every place, not only those the sampler drew.
      for (const place of places)
        for (const value of AWKWARD_STRINGS) {
          const encoded = encodeConfig(treeWith(place, value) as Record<string, unknown>);
          const flat = Object.fromEntries(Object.entries(encoded).map(([k, v]) => [k, v.value]));
          expect([place.join("."), valueAt(decodeConfig(flat, role), place)]).toEqual([
            place.join("."),
            value,
          ]);
        }
    });
  }

  test("warm: through Pulumi.warm.yaml, as written by YAML and read back", () => {
    const places = stringSettings(WarmConfig);
    fc.assert(
      fc.property(fc.constantFrom(...places), text, (place, value) => {
        const [key, ...rest] = place;
        const doc = stringify({ config: { [`cc-ci:${key}`]: treeWith(rest, value) } });
        expect(valueAt(withFile("Pulumi.warm.yaml", doc, readStackFile), place)).toBe(value);
      }),
      { numRuns: 300 },
    );
  });

  test("run defaults: through the defaults file, as written by YAML and read back", () => {
    const places = stringSettings(RunDefaults);
    fc.assert(
      fc.property(fc.constantFrom(...places), text, (place, value) => {
        const tree = yamlTree(stringify(treeWith(place, value)));
        expect(valueAt(decodeBySchema(RunDefaults, tree), place)).toBe(value);
      }),
      { numRuns: 300 },
    );
  });

  test("unquoted in a settings file, a string setting is the text as written (007 stays 007)", () => {
    const yaml = [
      "config:",
      "  cc-ci:domain: 2048.test",
      "  cc-ci:proxyNetwork: 007",
      "  cc-ci:keycloak:",
      "    hostname: 1e5",
      "    adminUser: true",
      "    command: [start, 0x1f]",
      "  cc-ci:registry:",
      "    image: null",
      "",
    ].join("\n");
    expect(withFile("Pulumi.warm.yaml", yaml, readStackFile)).toEqual({
      domain: "2048.test",
      proxyNetwork: "007",
      keycloak: { hostname: "1e5", adminUser: "true", command: ["start", "0x1f"] },
      registry: { image: "null" },
    });
    const defaults = withFile(
      "defaults.yml",
      "env:\n  PORT: 8080\n  CODE: 007\n  EMPTY:\ntestUser: 1e5\n",
      (f) => readRunDefaults(f),
    );
    expect(defaults.env).toEqual({ PORT: "8080", CODE: "007", EMPTY: "" });
    expect(defaults.testUser).toBe("1e5");
  });

  test("the catalogue is where the defaults file says, wherever cc-ci starts; --catalogue replaces it", () => {
    withFile("defaults.yml", "catalogue: ../recipes\n", (f) => {
      expect(readRunDefaults(f).catalogue).toBe(path.resolve(path.dirname(f), "..", "recipes"));
      expect(readRunDefaults(f, "elsewhere").catalogue).toBe(path.resolve("elsewhere"));
    });
    expect(readRunDefaults(undefined).catalogue).toBeUndefined();
  });
});

describe("typed settings still decode from their text", () => {
  test("numbers, booleans, null, lists and objects, quoted or not", () => {
    const c = parseStackConfig(
      {
        "cc-ci:slots": "8",
        "cc-ci:keycloak": JSON.stringify({ adminPort: null, enabled: false, realmPool: "2" }),
        "cc-ci:traefik": JSON.stringify({ httpPort: "8080", tls: { mode: "none" }, placement: ["a==b"] }),
        "cc-ci:registry": JSON.stringify({ enabled: "true", address: "10.0.0.1", diskBudget: 1024 }),
      },
      "warm",
    );
    expect(
      c.role === "warm" && [c.slots, c.keycloak.adminPort, c.keycloak.enabled, c.keycloak.realmPool],
    ).toEqual([8, null, false, 2]);
    expect(c.role === "warm" && [c.traefik.httpPort, c.traefik.placement, c.registry.enabled]).toEqual([
      8080,
      ["a==b"],
      true,
    ]);
    expect(c.role === "warm" && c.registry.diskBudget).toBe(1024);
  });

  test("the settings file's plain scalars are typed by the schema (YAML 1.2 numbers, booleans, null)", () => {
    const yaml =
      "config:\n  cc-ci:slots: 0x10\n  cc-ci:keycloak:\n    adminPort: ~\n    enabled: False\n    realmPool: 3\n";
    expect(withFile("Pulumi.warm.yaml", yaml, readStackFile)).toEqual({
      slots: 16,
      keycloak: { adminPort: null, enabled: false, realmPool: 3 },
    });
  });

  test("text no number can be named as what it is, not read as Infinity or a default", () => {
    for (const slots of ["1e999", "Infinity", ".inf", "NaN", "many", ""]) {
      let message = "";
      try {
        parseStackConfig({ "cc-ci:slots": slots }, "warm");
      } catch (e) {
        message = String(e);
      }
      expect([slots, message]).toEqual([
        slots,
        expect.stringMatching(/slots: .*expected number, received string/),
      ]);
    }
  });

  test("a setting that is not JSON where an object is wanted is named, not taken as text", () => {
    expect(() => parseStackConfig({ "cc-ci:traefik": "{not json" }, "warm")).toThrow(
      /traefik: .*expected object, received string/,
    );
  });
});

describe("regressions: values that read as numbers", () => {
  test("an owner id of 12 digits with one e (76290e602282, JSON's Infinity) is the owner id", () => {
    const c = parseStackConfig(
      Object.fromEntries(
        Object.entries(encodeConfig({ ...RUN_BASE, owner: "76290e602282" })).map(([k, v]) => [k, v.value]),
      ),
      "run-web-abc123",
    ) as Run;
    expect(c.owner).toBe("76290e602282");
  });

  test("an all-digit owner id, a recipe named 2048 and a numeric commit ref stay strings", () => {
    const c = parseStackConfig(
      Object.fromEntries(
        Object.entries(
          encodeConfig({ ...RUN_BASE, owner: "605544239232", recipe: "2048", ref: "1234567" }),
        ).map(([k, v]) => [k, v.value]),
      ),
      "run-web-abc123",
    ) as Run;
    expect([c.owner, c.recipe, c.ref]).toEqual(["605544239232", "2048", "1234567"]);
  });
});

describe("a run stack's settings file as cc-ci writes it (setRunConfig)", () => {
  test("every string is one double-quoted line of printable ASCII that reads back as itself", () => {
    fc.assert(
      fc.property(text, (v) => {
        const q = yamlQuoted(v);
        expect(q).toMatch(/^"[\x20-\x7e]*"$/);
        // A lone surrogate cannot be written as UTF-8 anywhere: it reads back as U+FFFD.
        expect(parseYaml(`k: ${q}`, { schema: "core" }).k).toBe(Buffer.from(v, "utf8").toString("utf8"));
      }),
    );
  });

  test("a settings file with the salt and the config reads back as written, nothing typed", () => {
    const config = Object.fromEntries(AWKWARD_STRINGS.map((v, i) => [`cc-ci:k${i}`, v]));
    const file = settingsYaml({ encryptionsalt: "v1:abc==:v1:def:ghi==", config });
    expect(parseYaml(file, { schema: "yaml-1.1" })).toEqual({
      encryptionsalt: "v1:abc==:v1:def:ghi==",
      config,
    });
    expect(settingsYaml({ config: {} })).toBe('"config": {}\n');
  });
});

describe("a run's secret settings from the deploying CLI's environment", () => {
  const kc = JSON.stringify({ url: "http://kc", user: "admin", password: "p" });
  test("the secret keys in the cc-ci namespace are taken; none set is none", () => {
    expect(
      secretConfigFromEnv({ [SECRET_CONFIG_ENV]: JSON.stringify({ "cc-ci:warmKeycloak": kc }) }),
    ).toEqual({
      "cc-ci:warmKeycloak": kc,
    });
    expect(secretConfigFromEnv({})).toEqual({});
  });

  test("anything else fails, naming what is wrong", () => {
    expect(() => secretConfigFromEnv({ [SECRET_CONFIG_ENV]: "{nope" })).toThrow(
      /CC_CI_SECRET_CONFIG[\s\S]*not JSON/,
    );
    expect(() =>
      secretConfigFromEnv({ [SECRET_CONFIG_ENV]: JSON.stringify({ "cc-ci:runId": "x" }) }),
    ).toThrow(/a key other than cc-ci:warmKeycloak/);
    expect(() => secretConfigFromEnv({ [SECRET_CONFIG_ENV]: JSON.stringify({ "cc-ci:warmS3": 5 }) })).toThrow(
      /CC_CI_SECRET_CONFIG/,
    );
  });
});
