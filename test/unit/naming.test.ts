/** Naming limits and uniqueness, as properties over arbitrary recipe names and run hex. */
import fc from "fast-check";
import {
  runNames,
  prefixedName,
  fitName,
  REALM_MAX,
  REALM_PATTERN,
  RUN_ID_PATTERN,
  RUN_STACK_PATTERN,
  SERVICE_NAME_MAX,
  OBJECT_NAME_MAX,
  runIdOfStack,
} from "../../lib/naming";

const recipeName = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,80}[a-z0-9]$/).filter((s) => /[a-z0-9]/.test(s));
const hex = fc.stringMatching(/^[0-9a-f]{6}$/);

describe("run names", () => {
  test("realm within 36 characters, keeping the hex whole, for any recipe name", () => {
    fc.assert(
      fc.property(recipeName, hex, (recipe, h) => {
        const n = runNames(recipe, h);
        expect(n.realm.length).toBeLessThanOrEqual(REALM_MAX);
        expect(n.realm.endsWith(`-${h}`)).toBe(true);
        expect(n.realm).toMatch(REALM_PATTERN);
        expect(n.runId).toMatch(RUN_ID_PATTERN);
        expect(n.stack).toMatch(RUN_STACK_PATTERN);
        expect(runIdOfStack(`organization/cc-ci/${n.stack}`)).toBe(n.runId);
      }),
    );
  });

  test("different hex, different names everywhere", () => {
    fc.assert(
      fc.property(recipeName, hex, hex, (recipe, a, b) => {
        fc.pre(a !== b);
        const x = runNames(recipe, a);
        const y = runNames(recipe, b);
        expect(x.realm).not.toBe(y.realm);
        expect(x.runId).not.toBe(y.runId);
        expect(x.stackName).not.toBe(y.stackName);
      }),
    );
  });

  test("run id is the first 4 letters or digits of the recipe", () => {
    expect(runNames("keycloak", "0a1b2c").runId).toBe("keyc-0a1b2c");
    expect(runNames("n8n", "0a1b2c").runId).toBe("n8n-0a1b2c");
    expect(runNames("my-app", "0a1b2c").runId).toBe("myap-0a1b2c");
    expect(runNames("My_App.Recipe", "0a1b2c").realm).toBe("my-app-recipe-0a1b2c");
    expect(() => runNames("---", "0a1b2c")).toThrow(/no letters or digits/);
    expect(() => runNames("web", "xyz")).toThrow(/6 lower-case hex/);
  });

  test("fresh runs get fresh hex", () => {
    const seen = new Set(Array.from({ length: 200 }, () => runNames("web").runId));
    expect(seen.size).toBeGreaterThan(190);
  });
});

describe("Swarm name limits", () => {
  const key = fc.stringMatching(/^[a-z0-9_]{1,120}$/);
  test("service names within 63, secret and config names within 64, distinct for distinct keys", () => {
    fc.assert(
      fc.property(recipeName, hex, key, key, (recipe, h, k1, k2) => {
        const prefix = runNames(recipe, h).stackName;
        const a = prefixedName(prefix, k1, SERVICE_NAME_MAX);
        expect(a.length).toBeLessThanOrEqual(SERVICE_NAME_MAX);
        expect(a.startsWith(`${prefix}_`)).toBe(true);
        expect(fitName(`${prefix}_${k1}_v1`, OBJECT_NAME_MAX).length).toBeLessThanOrEqual(OBJECT_NAME_MAX);
        if (k1 !== k2) expect(prefixedName(prefix, k2, SERVICE_NAME_MAX)).not.toBe(a);
      }),
    );
  });
});
