/** Compose's and .env's interpolation rules, table-driven. */
import { interpolate } from "../../lib/recipe/interpolate";
import { parseEnvFile } from "../../lib/recipe/envfile";

const vars = { SET: "value", EMPTY: "", STACK_NAME: "run_web_abc123", DOMAIN: "web-abc123.ci.test" };

describe("interpolate", () => {
  test.each([
    ["plain text", "plain text"],
    ["$SET", "value"],
    ["${SET}", "value"],
    ["a${SET}b", "avalueb"],
    ["${UNSET:-dflt}", "dflt"],
    ["${EMPTY:-dflt}", "dflt"],
    ["${EMPTY-dflt}", ""],
    ["${UNSET-dflt}", "dflt"],
    ["${SET:+alt}", "alt"],
    ["${EMPTY:+alt}", ""],
    ["${EMPTY+alt}", "alt"],
    ["${UNSET:-${SET}}", "value"],
    ["$$SET", "$SET"],
    ["$${1}", "${1}"],
    ["cost: 5$", "cost: 5$"],
    ["Host(`${DOMAIN}`)", "Host(`web-abc123.ci.test`)"],
    ["${STACK_NAME}_db", "run_web_abc123_db"],
  ])("%s → %s", (input, expected) => {
    const r = interpolate(input, vars);
    expect(r.errors).toEqual([]);
    expect(r.value).toBe(expected);
  });

  test("reports unset variables and required ones", () => {
    expect(interpolate("${NOPE}", vars).unset).toEqual(["NOPE"]);
    expect(interpolate("${NOPE:?give it}", vars).errors).toEqual([
      "required variable NOPE is missing a value: give it",
    ]);
    expect(interpolate("${EMPTY:?x}", vars).errors).toHaveLength(1);
    expect(interpolate("${EMPTY?x}", vars).errors).toHaveLength(0);
    expect(interpolate("${BAD", vars).errors[0]).toMatch(/unterminated/);
    expect(interpolate("${1X}", vars).errors[0]).toMatch(/invalid variable reference/);
  });
});

describe(".env.sample", () => {
  test("expands in order, so COMPOSE_FILE may refer to itself", () => {
    const env = parseEnvFile(
      'COMPOSE_FILE="compose.yml"\nCOMPOSE_FILE="$COMPOSE_FILE:compose.a.yml"\n#COMPOSE_FILE="$COMPOSE_FILE:compose.b.yml"\n',
    );
    expect(env.values.COMPOSE_FILE).toBe("compose.yml:compose.a.yml");
  });

  test("keeps hints from trailing comments", () => {
    const env = parseEnvFile(
      "SECRET_A_VERSION=v1 # length=64\nSECRET_B_VERSION=v2 #generate=false\nSECRET_C_VERSION=v1 # charset=abc length=12\n",
    );
    expect(env.values).toEqual({ SECRET_A_VERSION: "v1", SECRET_B_VERSION: "v2", SECRET_C_VERSION: "v1" });
    expect(env.hints).toEqual({
      SECRET_A_VERSION: { length: 64 },
      SECRET_B_VERSION: { generate: false },
      SECRET_C_VERSION: { length: 12, charset: "abc" },
    });
  });

  test("quotes: single is literal, double expands and unescapes; forced values win", () => {
    const env = parseEnvFile(
      'A=\'$DOMAIN\'\nB="x\\"y $DOMAIN"\nDOMAIN=example.com\nexport C=c # comment\nD=a#b\n',
      { DOMAIN: "run.ci.test" },
    );
    expect(env.values).toMatchObject({
      A: "$DOMAIN",
      B: 'x"y run.ci.test',
      DOMAIN: "run.ci.test",
      C: "c",
      D: "a#b",
    });
  });

  test("names each bad line", () => {
    const env = parseEnvFile("GOOD=1\nnot an assignment\nQ='open\n");
    expect(env.problems.map((p) => p.line)).toEqual([2, 3]);
  });
});
