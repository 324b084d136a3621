/** The stack configuration: defaults, the committed Pulumi.warm.yaml, and every problem by path. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { parseStackConfig, readWarmSettings, type WarmConfig } from "../../lib/config";
import { ValidationError } from "../../lib/errors";

function flat(values: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
}

function problems(raw: Record<string, unknown>, stack = "warm"): string[] {
  try {
    parseStackConfig(flat(raw), stack);
  } catch (e) {
    if (e instanceof ValidationError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  throw new Error("config parsed without error");
}

describe("stack config", () => {
  test("the committed Pulumi.warm.yaml is valid and complete", () => {
    const file = parse(readFileSync(path.join(__dirname, "..", "..", "Pulumi.warm.yaml"), "utf8")) as {
      config: Record<string, unknown>;
    };
    const c = parseStackConfig(flat(file.config), "warm") as WarmConfig;
    expect(c.role).toBe("warm");
    expect(c.keycloak.image).toMatch(/keycloak/);
    expect(c.traefik.tls).toEqual({ mode: "none" });
  });

  test("defaults for an empty warm config; role from the stack name", () => {
    const c = parseStackConfig({}, "warm") as WarmConfig;
    expect(c).toMatchObject({
      domain: "ci.test",
      proxyNetwork: "proxy",
      traefik: { httpPort: 80, httpsPort: 443, image: "traefik:v3.6" },
    });
    expect(c.keycloak).toMatchObject({
      hostname: "warm-keycloak",
      adminPort: 8180,
      command: ["start"],
      resources: { memoryLimit: "1536m" },
    });
    expect(
      parseStackConfig(flat({ "cc-ci:runId": "web-abc123", "cc-ci:recipeDir": "/r/web" }), "run-web-abc123")
        .role,
    ).toBe("run");
  });

  test("a configured 0 or empty value is a value, not a default", () => {
    const c = parseStackConfig(
      flat({ "cc-ci:runId": "web-abc123", "cc-ci:recipeDir": "/r", "cc-ci:env": { X: "" } }),
      "run-web-abc123",
    );
    expect(c.role === "run" && c.env).toEqual({ X: "" });
  });

  test("every problem listed by path, unknown keys included", () => {
    expect(
      problems({
        "cc-ci:domain": "Not A Domain",
        "cc-ci:traefik": { httpPort: 70000, tls: { mode: "file" }, colour: "blue" },
        "cc-ci:keycloak": { adminPort: null, database: { user: "Robert'); DROP" } },
        "cc-ci:typo": 1,
      }),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^domain: must be a lower-case DNS name/),
        expect.stringMatching(/^traefik\.httpPort: /),
        expect.stringMatching(/^traefik\.tls\.certFile: /),
        expect.stringMatching(/^traefik\.tls\.keyFile: /),
        expect.stringMatching(/^traefik: .*colour/),
        expect.stringMatching(/^keycloak\.database\.user: /),
        expect.stringMatching(/typo/),
      ]),
    );
  });

  test("a stack that is neither warm nor a run must say which it is", () => {
    expect(problems({}, "dev")).toEqual(['role: stack "dev" is neither warm nor run-…: set cc-ci:role']);
  });

  test("run config: bad run id, relative recipe path, unknown sso mode", () => {
    expect(
      problems({ "cc-ci:runId": "WEB", "cc-ci:recipeDir": "web", "cc-ci:sso": "maybe" }, "run-x"),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^runId: /),
        expect.stringMatching(/^recipeDir: must be an absolute path/),
        expect.stringMatching(/^sso: /),
      ]),
    );
  });
});

describe("readWarmSettings: a settings file as Pulumi leaves it", () => {
  const withFile = <T>(text: string, fn: (file: string) => T): T => {
    const dir = mkdtempSync(path.join(tmpdir(), "warm-yaml-"));
    try {
      writeFileSync(path.join(dir, "Pulumi.warm.yaml"), text);
      return fn(path.join(dir, "Pulumi.warm.yaml"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  test("a scalar Pulumi wrote back quoted (stack init, `pulumi config set`) reads as the program reads it", () => {
    const text = 'config:\n  cc-ci:slots: "5"\n  cc-ci:domain: ci.test\nencryptionsalt: v1:abc\n';
    const w = withFile(text, (f) => readWarmSettings(f));
    expect({ slots: w.slots, domain: w.domain }).toEqual({ slots: 5, domain: "ci.test" });
  });

  test("a quoted value that is no number is still named with its path", () => {
    expect(() => withFile('config:\n  cc-ci:slots: "many"\n', (f) => readWarmSettings(f))).toThrow(/slots/);
  });
});
