/**
 * Declared dependencies (.cc-ci/deps.yml): the file's format with every problem at its line, where
 * each dependency comes from (warm unit or cold server), the values the recipe and its tests get, and
 * what a run stack declares for them.
 */
import * as path from "node:path";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { readDeps, DEPS_FILE, MAX_DEPS_BYTES, type DepSpec } from "../../lib/deps/spec";
import { depRunVars, depHost, planDeps, type PostgresPlan } from "../../lib/deps/plan";
import { depVar } from "../../lib/deps/kinds";
import { unitName, UNIT_PATTERN } from "../../lib/deps/postgres";
import { coldUnitScript } from "../../components/runPostgres";
import { s3BucketName, s3UnitName, signV4, S3_UNIT_PATTERN, xmlValues } from "../../lib/deps/s3";
import { ValidationError, formatProblem } from "../../lib/errors";
import { placeholder } from "../../lib/placeholders";
import { runNames } from "../../lib/naming";
import { RecipeFiles } from "../../lib/recipe/files";
import { load, tempRecipe } from "../helpers/recipes";
import { declareStack, ofType, labelMap, type MockWorld } from "../helpers/mocks";

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const COMPOSE = 'version: "3.8"\nservices:\n  app:\n    image: x\n';
const deps = (text: string) => readDeps(new RecipeFiles(tempRecipe({ [DEPS_FILE]: text })));
const problems = (text: string) => deps(text).problems.map(formatProblem);

const PG = `db:
  kind: postgres
  extensions: [pgcrypto]
  env:
    DB_HOST: host
    DB_NAME: database
  secrets:
    db_password: password
`;

const WARM_PG = {
  adminHost: "127.0.0.1",
  adminPort: 15432,
  provisioning: { user: "ccci_provisioner", password: "prov-pass" },
  network: "ccci_warm_postgres",
  service: "ccci_warm_postgres",
  image: "cc-ci/postgres:15",
  gatewayImage: "cc-ci/haproxy:bookworm",
};
const WARM_S3 = {
  admin: { endpoint: "http://127.0.0.1:17071", access: "root-access", secret: "root-secret" },
  apiEndpoint: "http://127.0.0.1:17070",
  region: "us-east-1",
  network: "ccci_warm_s3",
  service: "ccci_warm_s3",
  gatewayImage: "cc-ci/haproxy:bookworm",
};
const names = runNames("notes", "a1b2c3");

/** A catalogue: a folder of recipe folders. */
function catalogueOf(recipes: Record<string, Record<string, string>>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "cc-ci-catalogue-"));
  for (const [name, files] of Object.entries(recipes))
    for (const [file, content] of Object.entries({ ".env.sample": "", ...files })) {
      mkdirSync(path.dirname(path.join(dir, name, file)), { recursive: true });
      writeFileSync(path.join(dir, name, file), content);
    }
  return dir;
}

describe(".cc-ci/deps.yml", () => {
  test("a recipe without it declares nothing", () => {
    expect(readDeps(new RecipeFiles(tempRecipe({ "compose.yml": COMPOSE })))).toEqual({
      deps: [],
      problems: [],
    });
  });

  test("each entry with its kind's defaults", () => {
    const r = deps(`${PG}files:\n  kind: s3\nsso:\n  kind: oidc\n  env: { OIDC_ISSUER: issuer }\n`);
    expect(r.problems).toEqual([]);
    expect(r.deps).toEqual([
      {
        name: "db",
        kind: "postgres",
        extensions: ["pgcrypto"],
        env: { DB_HOST: "host", DB_NAME: "database" },
        secrets: { db_password: "password" },
      },
      { name: "files", kind: "s3", buckets: ["data"], env: {}, secrets: {} },
      { name: "sso", kind: "oidc", env: { OIDC_ISSUER: "issuer" }, secrets: {} },
    ]);
  });

  test.each([
    ["an unknown kind, at its line", "db:\n  kind: mysql\n", /deps\.yml:2: db\.kind: /],
    [
      "an unknown key, at its line",
      "db:\n  kind: postgres\n  extentions: [x]\n",
      /deps\.yml:1: db: .*extentions/,
    ],
    [
      "a value the kind does not give",
      "db:\n  kind: postgres\n  env:\n    DB_HOST: hostname\n",
      /deps\.yml:4: db\.env\.DB_HOST: postgres gives no value "hostname" \(it gives: host, port, database, user, password, url\)/,
    ],
    [
      "a name that cannot be a variable",
      "Bad-Name:\n  kind: smtp\n",
      /deps\.yml:1: Bad-Name: a dependency's name/,
    ],
    [
      "two OIDC providers",
      "a:\n  kind: oidc\nb:\n  kind: oidc\n",
      /deps\.yml:4: b\.kind: a run has one OIDC provider/,
    ],
    [
      "a catalogue recipe named by a path (out of the catalogue)",
      "up:\n  kind: recipe\n  recipe: ../../etc\n",
      /deps\.yml:3: up\.recipe: is not the name of a recipe folder of the catalogue .*never a path/,
    ],
    [
      "a catalogue recipe named by an absolute path",
      "up:\n  kind: recipe\n  recipe: /etc\n",
      /deps\.yml:3: up\.recipe: /,
    ],
    ["YAML that does not parse", "db:\n  kind: [postgres\n", /deps\.yml:\d+: /],
    [
      "a duplicate key",
      "db:\n  kind: postgres\ndb:\n  kind: smtp\n",
      /deps\.yml:3: .*[Mm]ap keys must be unique/,
    ],
    [
      "an env name with a dash (godotenv refuses it)",
      "db:\n  kind: postgres\n  env:\n    DB-HOST: host\n",
      /deps\.yml:4: db\.env\.DB-HOST: is not an environment variable name/,
    ],
  ])("refused: %s", (_what, text, want) => {
    expect(problems(text).join("\n")).toMatch(want);
  });

  test("over its size, or a link out of the recipe: refused without quoting it", () => {
    expect(problems(`# ${"x".repeat(MAX_DEPS_BYTES)}\n`).join("")).toMatch(
      /deps\.yml: .*(large|bytes|size)/i,
    );
    const dir = tempRecipe({ "compose.yml": COMPOSE });
    symlinkSync("/etc/passwd", path.join(dir, ".cc-ci-link"));
    const linked = tempRecipe({ "compose.yml": COMPOSE });
    require("node:fs").mkdirSync(path.join(linked, ".cc-ci")); // eslint-disable-line @typescript-eslint/no-require-imports
    symlinkSync("/etc/passwd", path.join(linked, DEPS_FILE));
    const r = readDeps(new RecipeFiles(linked));
    expect(r.problems.map(formatProblem).join("")).toMatch(/deps\.yml: /);
    expect(r.problems.map(formatProblem).join("")).not.toMatch(/root:/);
  });

  test("aliases cannot expand without bound (a billion laughs)", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 12; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(", ")}]`,
      );
    const r = deps(bomb.join("\n") + "\n");
    expect(r.deps).toEqual([]);
    expect(r.problems.length).toBeGreaterThan(0);
  });
});

describe("where each dependency comes from", () => {
  const spec = deps(PG).deps as DepSpec[];

  test("auto: the warm unit when the warm layer serves the kind", () => {
    const notes: string[] = [];
    const [d] = planDeps(spec, "auto", { postgres: WARM_PG }, names, false, notes) as PostgresPlan[];
    expect(d).toMatchObject({
      mode: "warm",
      unit: "ccci_note_a1b2c3_db",
      host: "ccci-dep-db",
      extensions: ["pgcrypto"],
    });
    expect(notes).toEqual([]);
  });

  test("auto: cold, with the reason, when there is none or it does not answer", () => {
    const notes: string[] = [];
    expect(planDeps(spec, "auto", {}, names, false, notes)[0]).toMatchObject({ mode: "cold" });
    const broken = { postgres: WARM_PG, problems: { postgres: "connection refused" } };
    expect(planDeps(spec, "auto", broken, names, false, notes)[0]).toMatchObject({ mode: "cold" });
    expect(notes).toEqual([
      "dependency db: no usable warm postgres (the warm layer serves no postgres); deployed cold in the run stack",
      "dependency db: no usable warm postgres (connection refused); deployed cold in the run stack",
    ]);
  });

  test("--deps cold is cold; --deps warm without a warm instance is a named error", () => {
    expect(planDeps(spec, "cold", { postgres: WARM_PG }, names, false, [])[0]).toMatchObject({
      mode: "cold",
    });
    expect(() => planDeps(spec, "warm", {}, names, false, [])).toThrow(
      /db\.kind: a warm postgres was asked for \(--deps warm\), but the warm layer serves no postgres/,
    );
  });

  test("OIDC with SSO off is refused by name", () => {
    const more = deps("sso:\n  kind: oidc\n").deps;
    let err: ValidationError | undefined;
    try {
      planDeps(more, "auto", {}, names, true, []);
    } catch (e) {
      err = e as ValidationError;
    }
    expect(err?.problems.map(formatProblem)).toEqual([
      ".cc-ci/deps.yml: sso.kind: the recipe needs an OpenID provider, but the run has SSO off (--sso off)",
    ]);
  });

  test("recipe: a catalogue recipe next to the run at <name>.<run domain>; no catalogue, or none of that name, is named", () => {
    const spec = deps("up_stream:\n  kind: recipe\n  recipe: web\n").deps;
    const catalogue = catalogueOf({ web: { "compose.yml": COMPOSE } });
    const ctx = (c?: string) => ({
      catalogue: c,
      domain: "note-a1b2c3.ci.test",
      url: (h: string) => `https://${h}:8443`,
    });
    // Never warm, and --deps warm (--quick) takes it as it always is, like smtp.
    expect(planDeps(spec, "warm", {}, names, false, [], undefined, ctx(catalogue))).toEqual([
      {
        name: "up_stream",
        kind: "recipe",
        mode: "cold",
        recipe: "web",
        dir: path.join(catalogue, "web"),
        stackName: "run_note_a1b2c3-up-stream",
        domain: "up-stream.note-a1b2c3.ci.test",
        url: "https://up-stream.note-a1b2c3.ci.test:8443",
      },
    ]);
    const empty = catalogueOf({ other: { "compose.yml": COMPOSE } });
    const problemsOf = (c?: string) => {
      try {
        planDeps(spec, "auto", {}, names, false, [], undefined, ctx(c));
        return [];
      } catch (e) {
        return (e as ValidationError).problems.map(formatProblem);
      }
    };
    expect(problemsOf(undefined)).toEqual([
      ".cc-ci/deps.yml: up_stream.kind: recipe web is to come from the operator's catalogue, but none is set (run defaults' catalogue, or --catalogue)",
    ]);
    expect(problemsOf(empty)).toEqual([
      `.cc-ci/deps.yml: up_stream.kind: the catalogue ${empty} has no recipe web`,
    ]);
    expect(problemsOf("relative/dir")).toEqual([
      ".cc-ci/deps.yml: up_stream.kind: the catalogue relative/dir is not an absolute path",
    ]);
  });

  test("smtp: always a catcher of the run's own (never shared), named for the run; --deps warm refuses it", () => {
    const spec = deps("mail:\n  kind: smtp\n").deps;
    const notes: string[] = [];
    const auto = planDeps(spec, "auto", { postgres: WARM_PG, s3: WARM_S3 }, names, false, notes);
    expect(auto).toEqual([
      {
        name: "mail",
        kind: "smtp",
        mode: "cold",
        unit: "ccci-note-a1b2c3-mail",
        host: "ccci-dep-mail",
        domain: "note-a1b2c3.mail.test",
      },
    ]);
    expect(depRunVars(auto)).toEqual({
      CI_DEP_MAIL_HOST: "ccci-dep-mail",
      CI_DEP_MAIL_PORT: "1025",
      CI_DEP_MAIL_DOMAIN: "note-a1b2c3.mail.test",
      CI_DEP_MAIL_FROM: "ci@note-a1b2c3.mail.test",
      CI_DEP_MAIL_USER: "ccci-note-a1b2c3-mail",
      CI_DEP_MAIL_PASSWORD: placeholder("CI_DEP_MAIL_PASSWORD"),
      CI_DEP_MAIL_API_URL: "http://ccci-dep-mail:8025",
    });
    expect(planDeps(spec, "cold", {}, names, false, [])).toEqual(auto);
    // Never shared, so never warm: --deps warm (and --quick) gives the run its own as always.
    expect(planDeps(spec, "warm", {}, names, false, [])).toEqual(auto);
  });

  test("s3: the run's account and buckets, named for its backend and run; the same values warm or cold", () => {
    const spec = deps("files:\n  kind: s3\n  buckets: [uploads, thumbs]\n").deps;
    const warm = planDeps(spec, "auto", { s3: WARM_S3 }, names, false, [], "0123456789ab");
    expect(warm[0]).toMatchObject({
      kind: "s3",
      mode: "warm",
      unit: "ccci-0123456789ab-note-a1b2c3-files",
      host: "ccci-dep-files",
      buckets: ["note-a1b2c3-uploads", "note-a1b2c3-thumbs"],
    });
    expect(S3_UNIT_PATTERN.test(s3UnitName(names.runId, "a_long_dep_name_", "0123456789ab"))).toBe(true);
    // Its API through the proxy: the warm Traefik's warm-s3 host (a warm stack made before it had
    // none: the internal endpoint), or the cold server's host under the run's domain.
    const routed = { ...WARM_S3, publicEndpoint: "https://warm-s3.ci.test:8443" };
    expect(planDeps(spec, "auto", { s3: routed }, names, false, [])[0]).toMatchObject({
      publicEndpoint: "https://warm-s3.ci.test:8443",
    });
    expect(warm[0]).toMatchObject({ publicEndpoint: "http://ccci-dep-files:7070" });
    const ctx = { domain: "note-a1b2c3.ci.test", url: (h: string) => `https://${h}:8443` };
    expect(planDeps(spec, "cold", {}, names, false, [], undefined, ctx)[0]).toMatchObject({
      publicHost: "files.s3.note-a1b2c3.ci.test",
      publicEndpoint: "https://files.s3.note-a1b2c3.ci.test:8443",
    });
    const cold = planDeps(spec, "cold", { s3: WARM_S3 }, names, false, []);
    expect(depRunVars(cold)).toEqual({
      CI_DEP_FILES_ENDPOINT: "http://ccci-dep-files:7070",
      CI_DEP_FILES_PUBLIC_ENDPOINT: "http://ccci-dep-files:7070",
      CI_DEP_FILES_REGION: "us-east-1",
      CI_DEP_FILES_BUCKET: "note-a1b2c3-uploads",
      CI_DEP_FILES_BUCKETS: "note-a1b2c3-uploads note-a1b2c3-thumbs",
      CI_DEP_FILES_ACCESS_KEY: "ccci-none-note-a1b2c3-files",
      CI_DEP_FILES_SECRET_KEY: "@@cc-ci-secret:CI_DEP_FILES_SECRET_KEY@@",
    });
    // Bucket names keep S3's rules for every run id and bucket the file format allows.
    for (const b of ["abc", "a".repeat(32)])
      expect(s3BucketName("abcd-ffffff", b)).toMatch(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/);
  });

  test("unit names fit PostgreSQL's 63 and the functions' pattern for every run id and dependency name", () => {
    for (const recipe of ["a", "nextcloud", "x0x0"])
      for (const dep of ["d", "db", "a_very_long_name"]) {
        const n = unitName(runNames(recipe, "ffffff").runId, dep);
        expect(n.length).toBeLessThanOrEqual(63);
        expect(n).toMatch(UNIT_PATTERN);
      }
  });

  test("the values: plain ones known at plan time, secret ones placeholders", () => {
    const plan = planDeps(spec, "auto", { postgres: WARM_PG }, names, false, []);
    expect(depRunVars(plan)).toEqual({
      CI_DEP_DB_HOST: "ccci-dep-db",
      CI_DEP_DB_PORT: "5432",
      CI_DEP_DB_DATABASE: "ccci_note_a1b2c3_db",
      CI_DEP_DB_USER: "ccci_note_a1b2c3_db",
      CI_DEP_DB_PASSWORD: "@@cc-ci-secret:CI_DEP_DB_PASSWORD@@",
      CI_DEP_DB_URL: "@@cc-ci-secret:CI_DEP_DB_URL@@",
    });
    expect(depVar({ name: "my_files", kind: "s3" }, "accessKey")).toBe("CI_DEP_MY_FILES_ACCESS_KEY");
    expect(depVar({ name: "sso", kind: "oidc" }, "clientSecret")).toBe("CI_OIDC_CLIENT_SECRET");
    expect(depHost("my_files")).toBe("ccci-dep-my-files");
  });
});

describe("the recipe's env and secrets from its dependencies", () => {
  const recipe = () =>
    tempRecipe({
      "compose.yml":
        'version: "3.8"\nservices:\n  app:\n    image: x\n    environment: [DB_HOST, DB_NAME]\n    secrets: [db_password]\nsecrets:\n  db_password:\n    external: true\n    name: ${STACK_NAME}_db_password_v1\n',
      ".env.sample": "DB_HOST=db\nDB_NAME=app\n",
      [DEPS_FILE]: PG,
    });
  const runVars = depRunVars(planDeps(deps(PG).deps, "cold", {}, names, false, []));

  test("deps.yml maps values over .env.sample; the operator's env still wins", () => {
    const m = load("web", { dir: recipe(), runVars });
    expect(m.services[0].env).toMatchObject({ DB_HOST: "ccci-dep-db", DB_NAME: "ccci_note_a1b2c3_db" });
    const over = load("web", { dir: recipe(), runVars, env: { DB_HOST: "elsewhere" } });
    expect(over.services[0].env.DB_HOST).toBe("elsewhere");
  });

  test("a recipe secret named in deps.yml holds the dependency's value", () => {
    const m = load("web", { dir: recipe(), runVars });
    expect(m.secrets.find((s) => s.key === "db_password")?.source).toEqual({
      kind: "run",
      variable: "CI_DEP_DB_PASSWORD",
    });
  });

  test("without the run's values (no such dependency provided), each mapping is a problem", () => {
    expect(() => load("web", { dir: recipe() })).toThrow(
      /deps\.yml: db\.env\.DB_HOST: this run has no value/,
    );
  });
});

/** A run stack of the recipe `files` make (recipe notes, run note-a1b2c3, SSO off), declared with the mocks. */
async function runStackOf(files: Record<string, string>, extra: Record<string, unknown>) {
  const world: MockWorld = { declared: [] };
  const outputs = (await declareStack(world, "run-note-a1b2c3", {
    runId: "note-a1b2c3",
    recipeDir: tempRecipe(files),
    recipe: "notes",
    sso: "off",
    ...extra,
  })) as Any;
  return { world, outputs };
}

describe("a run stack with a postgres dependency", () => {
  const stack = (extra: Record<string, unknown>) =>
    runStackOf(
      {
        "compose.yml":
          'version: "3.8"\nservices:\n  app:\n    image: x\n    environment: [DB_HOST]\n    secrets: [db_password]\n    networks: [proxy]\nsecrets:\n  db_password:\n    external: true\n    name: ${STACK_NAME}_db_password_v1\nnetworks:\n  proxy:\n    external: true\n',
        ".env.sample": "DB_HOST=db\n",
        [DEPS_FILE]: PG,
      },
      extra,
    );
  const services = (w: MockWorld) => ofType(w, "docker:index/service:Service").map((s) => s.inputs);

  test("warm: the unit by the provisioning role (a secret), a gateway on the run's deps network and the warm server's", async () => {
    const { world } = await stack({ warmPostgres: WARM_PG, owner: "0123456789ab" });
    const [unit] = ofType(world, "pulumi-nodejs:dynamic/cc-ci:PostgresUnit");
    expect(unit.inputs).toMatchObject({
      unit: "ccci_note_a1b2c3_db",
      extensions: ["pgcrypto"],
      note: { run: "note-a1b2c3", owner: "0123456789ab" },
      provisioner: { host: "127.0.0.1", port: 15432, user: "ccci_provisioner" },
    });
    expect(unit.secretPaths).toEqual(expect.arrayContaining(["provisioner", "password"]));
    const gw = services(world).find((s) => s.name === "run_note_a1b2c3_dep_db") as Any;
    expect(gw.taskSpec.containerSpec.image).toBe("cc-ci/haproxy:bookworm");
    expect(gw.taskSpec.containerSpec.env).toEqual({ LISTEN_PORT: "5432", TARGET: "ccci_warm_postgres:5432" });
    expect(gw.taskSpec.networksAdvanceds).toEqual([
      { id: "run-deps-id", aliases: ["ccci-dep-db"] },
      { id: "id-of-ccci_warm_postgres" },
    ]);
    const deps = ofType(world, "docker:index/network:Network").find((n) => n.name === "run-deps") as Any;
    expect(deps.inputs).toMatchObject({ name: "run_note_a1b2c3_deps", internal: true, attachable: true });
    expect(labelMap(deps.inputs.labels)["cc-ci.run"]).toBe("note-a1b2c3");
  });

  test("the recipe's services join the deps network (no alias) and get the unit's values", async () => {
    const { world } = await stack({ warmPostgres: WARM_PG });
    const app = services(world).find((s) => s.name === "run_note_a1b2c3_app") as Any;
    expect(app.taskSpec.networksAdvanceds).toContainEqual({ id: "run-deps-id" });
    expect(app.taskSpec.containerSpec.env.DB_HOST).toBe("ccci-dep-db");
    const password = world.generated?.["run-dep-db-password"];
    const secret = ofType(world, "docker:index/secret:Secret").find(
      (s) => s.inputs.name === "run_note_a1b2c3_db_password_v1",
    );
    expect(Buffer.from(String(secret?.inputs.data), "base64").toString()).toBe(password);
  });

  test("cold: a server of the run's own at the same host, the unit made at its first start, no warm unit", async () => {
    const { world, outputs } = await stack({});
    expect(ofType(world, "pulumi-nodejs:dynamic/cc-ci:PostgresUnit")).toHaveLength(0);
    const server = services(world).find((s) => s.name === "run_note_a1b2c3_dep_db") as Any;
    expect(server.taskSpec.containerSpec.image).toBe("postgres:15");
    expect(server.taskSpec.containerSpec.env).toEqual({
      POSTGRES_PASSWORD_FILE: "/run/secrets/superuser_password",
      CCCI_UNIT: "ccci_note_a1b2c3_db",
      CCCI_EXTENSIONS: "pgcrypto",
    });
    expect(server.taskSpec.networksAdvanceds).toEqual([{ id: "run-deps-id", aliases: ["ccci-dep-db"] }]);
    expect(server.taskSpec.containerSpec.configs[0].fileName).toBe(
      "/docker-entrypoint-initdb.d/ccci-unit.sh",
    );
    // The superuser's password is not the unit's.
    expect(world.generated?.["run-dep-db-superuser-password"]).not.toBe(
      world.generated?.["run-dep-db-password"],
    );
    expect(outputs.deps.db).toMatchObject({ kind: "postgres", mode: "cold" });
  });

  test("the cold server's unit script makes an owner that reaches no other database", () => {
    const sh = coldUnitScript();
    expect(sh).toMatch(/CREATE ROLE :"unit" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE/);
    expect(sh).toMatch(/REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC/);
    // The password is read from its secret file inside psql, never on a command line.
    expect(sh).toMatch(/\\set pw `cat \/run\/secrets\/password`/);
  });
});

describe("a run stack with an smtp dependency", () => {
  test("a mail catcher of the run's own on the run's deps network only, bounded, its password generated", async () => {
    const { world, outputs } = await runStackOf(
      {
        "compose.yml":
          'version: "3.8"\nservices:\n  app:\n    image: x\n    environment: [SMTP_HOST, SMTP_PORT]\n    networks: [proxy]\nnetworks:\n  proxy:\n    external: true\n',
        ".env.sample": "SMTP_HOST=smtp\nSMTP_PORT=587\n",
        [DEPS_FILE]: "mail:\n  kind: smtp\n  env:\n    SMTP_HOST: host\n    SMTP_PORT: port\n",
      },
      { smtp: { image: "cc-ci/mailpit:1.33.1", maxMessages: 50 } },
    );
    const all = ofType(world, "docker:index/service:Service").map((x) => x.inputs as Any);
    const server = all.find((x) => x.name === "run_note_a1b2c3_dep_mail") as Any;
    expect(server.taskSpec.containerSpec.image).toBe("cc-ci/mailpit:1.33.1");
    expect(server.taskSpec.containerSpec.commands).toEqual(
      expect.arrayContaining(["--smtp", "0.0.0.0:1025", "--listen", "0.0.0.0:8025", "--max", "50"]),
    );
    expect(server.taskSpec.networksAdvanceds).toEqual([{ id: "run-deps-id", aliases: ["ccci-dep-mail"] }]);
    expect(server.taskSpec.resources.limits.memoryBytes).toBe(128 * 2 ** 20);
    const app = all.find((x) => x.name === "run_note_a1b2c3_app") as Any;
    expect(app.taskSpec.containerSpec.env).toMatchObject({ SMTP_HOST: "ccci-dep-mail", SMTP_PORT: "1025" });
    expect(outputs.deps.mail).toMatchObject({ kind: "smtp", mode: "cold" });
    expect(world.generated?.["run-dep-mail-password"]).toMatch(/^.{24}$/);
  });
});

describe("a run stack with a recipe dependency", () => {
  const WEB =
    'version: "3.8"\nservices:\n  app:\n    image: cc-ci/whoami:1\n    networks: [proxy]\n    secrets: [token]\n    deploy:\n      labels:\n        - "traefik.enable=true"\n        - "traefik.http.services.${STACK_NAME}.loadbalancer.server.port=80"\n        - "traefik.http.routers.${STACK_NAME}.rule=Host(`${DOMAIN}`)"\nsecrets:\n  token:\n    external: true\n    name: ${STACK_NAME}_token_${SECRET_TOKEN_VERSION}\nnetworks:\n  proxy:\n    external: true\n';
  const FRONT =
    'version: "3.8"\nservices:\n  app:\n    image: x\n    environment: [UPSTREAM]\n    networks: [proxy]\nnetworks:\n  proxy:\n    external: true\n';
  const recipe = { "compose.yml": FRONT, ".env.sample": "UPSTREAM=x\n" };
  const needsWeb = {
    ...recipe,
    [DEPS_FILE]: "web:\n  kind: recipe\n  recipe: web\n  env:\n    UPSTREAM: url\n",
  };
  const webEnv = "TYPE=web\nDOMAIN=web.example.com\nSECRET_TOKEN_VERSION=v1\n";

  test("its services beside the recipe's, named and labelled for the run, at its own domain; its URL in the recipe's env", async () => {
    const catalogue = catalogueOf({ web: { "compose.yml": WEB, ".env.sample": webEnv } });
    const { world, outputs } = await runStackOf(needsWeb, { catalogue });
    const all = ofType(world, "docker:index/service:Service").map((x) => x.inputs as Any);
    const web = all.find((x) => x.name === "run_note_a1b2c3-web_app") as Any;
    expect(web.taskSpec.containerSpec.image).toBe("cc-ci/whoami:1");
    expect(labelMap(web.labels)).toMatchObject({
      "cc-ci.run": "note-a1b2c3",
      "cc-ci.dep": "web",
      "com.docker.stack.namespace": "run_note_a1b2c3-web",
    });
    expect(Object.values(labelMap(web.labels)).join(" ")).toContain("Host(`web.note-a1b2c3.ci.test`)");
    // On the run's proxy network only: a catalogue recipe shares no network with the recipe's services.
    expect(web.taskSpec.networksAdvanceds).toHaveLength(1);
    expect(ofType(world, "docker:index/network:Network").map((n) => n.inputs.name)).not.toContain(
      "run_note_a1b2c3_deps",
    );
    // Its own secrets, generated, named with its STACK_NAME as abra would.
    expect(ofType(world, "docker:index/secret:Secret").map((x) => x.inputs.name)).toContain(
      "run_note_a1b2c3-web_token_v1",
    );
    const url = outputs.deps.web.values.url as string;
    expect(url).toMatch(/^https?:\/\/web\.note-a1b2c3\.ci\.test(:\d+)?$/);
    expect(outputs.deps.web).toMatchObject({
      kind: "recipe",
      mode: "cold",
      values: { host: "web.note-a1b2c3.ci.test" },
    });
    const app = all.find((x) => x.name === "run_note_a1b2c3_app") as Any;
    expect(app.taskSpec.containerSpec.env.UPSTREAM).toBe(url);
    expect(outputs.routers.flatMap((r: Any) => r.hosts)).toContain("web.note-a1b2c3.ci.test");
  });

  test("a catalogue recipe with dependencies of its own, or a broken one, is refused naming the dependency", async () => {
    const nested = catalogueOf({
      web: { "compose.yml": WEB, ".env.sample": webEnv, [DEPS_FILE]: "db:\n  kind: postgres\n" },
    });
    await expect(runStackOf(needsWeb, { catalogue: nested })).rejects.toThrow(
      /dependency web: recipe web .*\n.*\.cc-ci\/deps\.yml: a catalogue recipe deployed as a dependency brings no dependencies of its own/,
    );
    const broken = catalogueOf({ web: { "compose.yml": "services: [", ".env.sample": webEnv } });
    await expect(runStackOf(needsWeb, { catalogue: broken })).rejects.toThrow(/dependency web: recipe web/);
    // A run's limits hold for the recipe and its catalogue recipes together.
    const fine = catalogueOf({ web: { "compose.yml": WEB, ".env.sample": webEnv } });
    await expect(runStackOf(needsWeb, { catalogue: fine, limits: { maxServices: 1 } })).rejects.toThrow(
      /2 services with its catalogue recipes' are over the run's limit of 1 \(limits\.maxServices\)/,
    );
  });
});

describe("the warm layer's PostgreSQL", () => {
  test("off by default; when enabled: a server on a network of its own, the admin gateway on 127.0.0.1, the provisioning role", async () => {
    const off: MockWorld = { declared: [] };
    const offOut = (await declareStack(off, "warm", { role: "warm" })) as Any;
    expect(offOut.deps).toBeUndefined();
    expect(ofType(off, "pulumi-nodejs:dynamic/cc-ci:PostgresBootstrap")).toHaveLength(0);

    const world: MockWorld = { declared: [] };
    const outputs = (await declareStack(world, "warm", {
      role: "warm",
      postgres: { enabled: true, image: "cc-ci/postgres:15", adminPort: 15999 },
    })) as Any;
    const server = ofType(world, "docker:index/service:Service").find(
      (s) => s.inputs.name === "ccci_warm_postgres",
    );
    expect(server?.inputs.taskSpec.networksAdvanceds).toEqual([{ id: "warm-postgres-network-id" }]);
    const net = ofType(world, "docker:index/network:Network").find(
      (n) => n.inputs.name === "ccci_warm_postgres",
    );
    expect(net?.inputs).toMatchObject({ internal: true, attachable: true });
    const gw = ofType(world, "docker:index/container:Container").find(
      (c) => c.inputs.name === "ccci_warm_postgres_gw",
    );
    expect(gw?.inputs.ports).toEqual([{ internal: 8080, external: 15999, ip: "127.0.0.1", protocol: "tcp" }]);
    expect(gw?.inputs.envs).toContain("TARGET=ccci_warm_postgres:5432");
    // Docker does not start it at its own start (before the swarm serves the network): setup and `warm up` do.
    expect(gw?.inputs.restart).toBe("no");
    expect(labelMap(gw?.inputs.labels)["cc-ci.gateway"]).toBe("true");
    const [boot] = ofType(world, "pulumi-nodejs:dynamic/cc-ci:PostgresBootstrap");
    expect(boot.inputs.superuser).toMatchObject({ host: "127.0.0.1", port: 15999, user: "postgres" });
    expect(boot.secretPaths).toEqual(expect.arrayContaining(["superuser", "provisionerPassword"]));
    const contract = await new Promise<Any>((resolve) =>
      (outputs.deps as { apply: (f: (v: Any) => void) => void }).apply(resolve),
    );
    expect(contract.postgres).toMatchObject({
      adminHost: "127.0.0.1",
      adminPort: 15999,
      provisioning: {
        user: "ccci_provisioner",
        password: world.generated?.["warm-postgres-provisioner-password"],
      },
      network: "ccci_warm_postgres",
      service: "ccci_warm_postgres",
    });
  });
});

describe("S3 requests are signed as AWS documents Signature Version 4", () => {
  // The examples of AWS's "Signature Calculations for the Authorization Header: Transferring Payload
  // in a Single Chunk" (S3 API reference), with their published signatures.
  const login = {
    access: "AKIAIOSFODNN7EXAMPLE",
    secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    region: "us-east-1",
  };
  const at = new Date("2013-05-24T00:00:00Z");
  const host = "examplebucket.s3.amazonaws.com";
  const signature = (h: Record<string, string>) => /Signature=([0-9a-f]{64})$/.exec(h.authorization)?.[1];
  test.each([
    [
      "GET Object",
      { method: "GET", host, path: "/test.txt", headers: { Range: "bytes=0-9" } },
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    ],
    [
      "PUT Object",
      {
        method: "PUT",
        host,
        path: "/test$file.text",
        headers: { Date: "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY" },
        body: "Welcome to Amazon S3.",
      },
      "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
    ],
    [
      "GET Bucket Lifecycle",
      { method: "GET", host, path: "/", query: { lifecycle: "" } },
      "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
    ],
    [
      "Get Bucket (List Objects)",
      { method: "GET", host, path: "/", query: { "max-keys": "2", prefix: "J" } },
      "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
    ],
  ])("%s", (_what, req, want) => {
    expect(signature(signV4(login, req, at).headers)).toBe(want);
  });
});

describe("a run stack with an s3 dependency", () => {
  async function stack(extra: Record<string, unknown>) {
    const dir = tempRecipe({
      "compose.yml": 'version: "3.8"\nservices:\n  app:\n    image: x\n    environment: [S3_BUCKET]\n',
      ".env.sample": "S3_BUCKET=files\n",
      [DEPS_FILE]: "files:\n  kind: s3\n  buckets: [uploads]\n  env:\n    S3_BUCKET: bucket\n",
    });
    const world: MockWorld = { declared: [] };
    await declareStack(world, "run-note-a1b2c3", {
      runId: "note-a1b2c3",
      recipeDir: dir,
      recipe: "notes",
      sso: "off",
      owner: "0123456789ab",
      ...extra,
    });
    return world;
  }
  const service = (w: MockWorld) =>
    ofType(w, "docker:index/service:Service").find((s) => s.inputs.name === "run_note_a1b2c3_dep_files")
      ?.inputs as Any;

  test("warm: the account and buckets by the root account (a secret), a gateway to the S3 port only", async () => {
    const world = await stack({ warmS3: WARM_S3 });
    const [unit] = ofType(world, "pulumi-nodejs:dynamic/cc-ci:S3Unit");
    expect(unit.inputs).toMatchObject({
      unit: "ccci-0123456789ab-note-a1b2c3-files",
      buckets: ["note-a1b2c3-uploads"],
    });
    expect(unit.secretPaths).toEqual(expect.arrayContaining(["root", "secret"]));
    expect(service(world).taskSpec.containerSpec.env).toEqual({
      LISTEN_PORT: "7070",
      TARGET: "ccci_warm_s3:7070",
    });
    const app = ofType(world, "docker:index/service:Service").find(
      (s) => s.inputs.name === "run_note_a1b2c3_app",
    );
    expect(app?.inputs.taskSpec.containerSpec.env.S3_BUCKET).toBe("note-a1b2c3-uploads");
  });

  test("cold: an S3 server of the run's own, its buckets made at start, no admin port", async () => {
    const world = await stack({});
    expect(ofType(world, "pulumi-nodejs:dynamic/cc-ci:S3Unit")).toHaveLength(0);
    const cmd = service(world).taskSpec.containerSpec.commands.join(" ");
    expect(cmd).toContain("mkdir -p /data/iam /data/buckets /data/buckets/note-a1b2c3-uploads");
    expect(cmd).not.toContain("--admin-port");
    // On the run's deps network, and on its proxy's, routed at its own host there (the S3 port only).
    const nets = service(world).taskSpec.networksAdvanceds;
    expect(nets[0]).toEqual({ id: "run-deps-id", aliases: ["ccci-dep-files"] });
    expect(nets).toHaveLength(2);
    const labels = labelMap(service(world).labels);
    const router = "run-note-a1b2c3-dep-files-s3";
    expect(labels).toMatchObject({
      "traefik.enable": "true",
      [`traefik.http.routers.${router}.rule`]: "Host(`files.s3.note-a1b2c3.ci.test`)",
      [`traefik.http.services.${router}.loadbalancer.server.port`]: "7070",
      "traefik.swarm.network": "run_note_a1b2c3_proxy",
      "cc-ci.run": "note-a1b2c3",
    });
  });
});

test("the warm S3 server: its admin API on a port of its own, both ways in for the CI host on 127.0.0.1 only", async () => {
  const world: MockWorld = { declared: [] };
  const outputs = (await declareStack(world, "warm", {
    role: "warm",
    s3: { enabled: true, image: "cc-ci/versitygw:1.8.0", adminPort: 17999, apiPort: 17998 },
  })) as Any;
  const server = ofType(world, "docker:index/service:Service").find((s) => s.inputs.name === "ccci_warm_s3");
  expect(server?.inputs.taskSpec.containerSpec.commands.join(" ")).toContain(
    "--port :7070 --admin-port :7071",
  );
  const gws = ofType(world, "docker:index/container:Container").filter((c) =>
    /^ccci_warm_s3(_admin)?_gw$/.test(c.inputs.name),
  );
  expect(gws.map((g) => g.inputs.ports[0])).toEqual(
    expect.arrayContaining([
      { internal: 8080, external: 17999, ip: "127.0.0.1", protocol: "tcp" },
      { internal: 8080, external: 17998, ip: "127.0.0.1", protocol: "tcp" },
    ]),
  );
  const contract = await new Promise<Any>((resolve) =>
    (outputs.deps as { apply: (f: (v: Any) => void) => void }).apply(resolve),
  );
  expect(contract.s3).toMatchObject({
    apiEndpoint: "http://127.0.0.1:17998",
    publicEndpoint: "http://warm-s3.ci.test",
    network: "ccci_warm_s3",
    region: "us-east-1",
  });
  expect(contract.s3.admin.endpoint).toBe("http://127.0.0.1:17999");
  // Routed by the warm Traefik at warm-s3.<domain>, from its private network, to the S3 port only.
  const labels = labelMap(server?.inputs.labels);
  expect(labels).toMatchObject({
    "traefik.http.routers.ccci_warm-s3.rule": "Host(`warm-s3.ci.test`)",
    "traefik.http.services.ccci_warm-s3.loadbalancer.server.port": "7070",
    "traefik.swarm.network": "ccci_warm_edge",
  });
  expect(Object.values(labels)).not.toContain("7071");
  expect(server?.inputs.taskSpec.networksAdvanceds).toHaveLength(2);
  expect(contract.postgres).toBeUndefined();
});

test("XML values come back as the server meant them (entities decoded), so any object name can be deleted", () => {
  expect(
    xmlValues("<Key>a&amp;b &lt;c&gt; &quot;&apos; &#252;&#x1F642;</Key><Key>plain</Key>", "Key"),
  ).toEqual(["a&b <c> \"' ü🙂", "plain"]);
});
