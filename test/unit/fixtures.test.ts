/**
 * The `real-*` fixture recipes: each written in the shape of public Co-op Cloud recipes (overlays,
 * abra.sh versions, golang-templated configs, secrets with abra's hints, EXTRA_DOMAINS aliases, an
 * SSO client configured from the run's realm), loaded as a run loads them, with what makes each
 * realistic asserted on the plan — and `cc-ci check` saying it would deploy.
 */
import { cpSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { checkRecipe } from "../../automation/commands/check";
import { readRunDefaults, RunConfig } from "../../lib/config";
import { runNames } from "../../lib/naming";
import { placeholder } from "../../lib/placeholders";
import { CHARSETS } from "../../lib/recipe/envfile";
import { loadRecipe, mapExtraDomains, type LoadOptions } from "../../lib/recipe/load";
import type { RecipeModel, ServiceSpec } from "../../lib/recipe/model";
import { planRun, recipeOptions, type RunPlan } from "../../lib/runPlan";
import { fixture, load, options } from "../helpers/recipes";

const ROOT = path.join(__dirname, "..", "..");
const RUN_DEFAULTS = path.join(ROOT, "test", "fixtures", "run-defaults.yml");

// The warm layer as a run finds it (the values of Pulumi.warm.yaml): Traefik over plain HTTP on port
// 80, Keycloak at warm-keycloak.ci.test.
const PROXY = {
  domain: "ci.test",
  networks: ["proxy_0"],
  entrypoints: { web: "web", webSecure: "web-secure" },
  scheme: "http" as const,
  httpPort: 80,
  httpsPort: 443,
  defaultRuleSyntax: "v2" as const,
};
const KEYCLOAK = {
  publicUrl: "http://warm-keycloak.ci.test",
  adminUrl: "http://127.0.0.1:8180",
  provisioning: { realm: "master", clientId: "cc-ci-provisioner", clientSecret: "unused" },
  service: "keycloak",
  realmPool: 0,
};

/** A fixture loaded exactly as `cc-ci run` loads it: the run's plan, CI_* values and options. */
function asRun(name: string, over: Partial<LoadOptions> = {}): { plan: RunPlan; model: RecipeModel } {
  const recipeDir = fixture(name);
  const config = RunConfig.parse({
    role: "run",
    runId: runNames(name, "c0ffee").runId,
    recipeDir,
    warmProxy: PROXY,
    proxyNetwork: PROXY.networks[0],
    warmKeycloak: KEYCLOAK,
  });
  const plan = planRun(config, {
    read: { ok: true, proxy: PROXY, keycloak: KEYCLOAK, problems: [] },
    keycloakHealthy: true,
  });
  return { plan, model: loadRecipe({ ...recipeOptions(plan, config), ...over }) };
}

function service(m: RecipeModel, key: string): ServiceSpec {
  const s = m.services.find((x) => x.key === key);
  if (!s) throw new Error(`no service ${key} in ${m.recipe}`);
  return s;
}

/** A rendered config's text (recipe secrets shown as <secret:key>). */
function configText(m: RecipeModel, key: string): string {
  const c = m.configs.find((x) => x.key === key);
  if (!c) throw new Error(`no config ${key} in ${m.recipe}: ${m.configs.map((x) => x.key).join(", ")}`);
  return c.parts.map((p) => (typeof p === "string" ? p : `<secret:${p.secret}>`)).join("");
}

function configName(m: RecipeModel, key: string): string {
  return m.configs.find((x) => x.key === key)?.name ?? "";
}

function tmpfs(s: ServiceSpec, target: string) {
  return s.mounts.filter((x) => x.type === "tmpfs" && x.target === target);
}

/** A label as Traefik reads it (keys compared case-insensitively). */
function label(labels: Record<string, string>, key: string): string | undefined {
  const k = Object.keys(labels).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : labels[k];
}

/** A copy of a fixture without .cc-ci/: the recipe as abra (which never reads .cc-ci/) sees it. */
function withoutCiFiles(name: string): string {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), "cc-ci-fixture-")), name);
  cpSync(fixture(name), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}.cc-ci`) });
  return dir;
}

const FIXTURES = [
  "real-php-lemp",
  "real-five",
  "real-pg-overlays",
  "real-versions-aliases",
  "real-sso-backchannel",
];
/** The fixtures a real run can deploy on this host: only the local images. */
const E2E = FIXTURES.filter((f) => f !== "real-php-lemp");

describe("real-* fixtures: cc-ci check and their tests", () => {
  test.each(FIXTURES)("%s: cc-ci check says it would deploy", (name) => {
    const r = checkRecipe(fixture(name), { projectDir: ROOT, defaultsFile: RUN_DEFAULTS });
    expect({ ok: r.ok, problems: r.problems }).toEqual({ ok: true, problems: [] });
  });

  test.each(FIXTURES)("%s: has an executable .cc-ci/test", (name) => {
    const mode = statSync(path.join(fixture(name), ".cc-ci", "test")).mode;
    expect(mode & 0o111).toBe(0o111);
  });

  test.each(E2E)("%s: uses only this host's local images (e2e-able without substitutions)", (name) => {
    for (const s of asRun(name).model.services) expect(s.image).toMatch(/^cc-ci\//);
  });

  test("the run defaults map the PHP fixture's nginx to the local stand-in, and nothing else", () => {
    const d = readRunDefaults(RUN_DEFAULTS);
    const r = checkRecipe(fixture("real-php-lemp"), { projectDir: ROOT, defaultsFile: RUN_DEFAULTS });
    const images = Object.fromEntries(
      (r.plan?.services ?? []).map((s) => [s.name.replace(/^.*_/, ""), s.image]),
    );
    expect(images).toEqual({ app: "php:8.2-fpm", db: "mariadb:10.11", web: "cc-ci/nginx:bookworm" });
    expect(d.images["nginx:1.27"]).toBe("cc-ci/nginx:bookworm");
  });
});

describe("real-php-lemp: PHP-FPM + nginx + MariaDB (load-only)", () => {
  const m = load("real-php-lemp");
  const S = m.stackName;
  const app = service(m, "app");
  const web = service(m, "web");
  const db = service(m, "db");

  test("the MariaDB overlay is chained onto compose.yml by COMPOSE_FILE", () => {
    expect(m.composeFiles).toEqual(["compose.yml", "compose.mariadb.yml"]);
    expect(m.services.map((s) => s.key).sort()).toEqual(["app", "db", "web"]);
    // The overlay merges into the app of compose.yml: its DB settings and the secret.
    expect(app.env).toMatchObject({
      DB_HOST: `${S}_db`,
      DB_NAME: "site",
      DB_USER: "site",
      DB_PASSWORD_FILE: "/run/secrets/db_password",
    });
    expect(app.secrets.map((s) => s.key)).toEqual(["db_password"]);
    expect(db.secrets.map((s) => s.key).sort()).toEqual(["db_password", "db_root_password"]);
  });

  test("without the overlay, no database and no secret", () => {
    const alone = load("real-php-lemp", { env: { COMPOSE_FILE: "compose.yml" } });
    expect(alone.services.map((s) => s.key).sort()).toEqual(["app", "web"]);
    expect(alone.secrets).toEqual([]);
  });

  test("abra gives the whole env file to `app` only; web sees what compose.yml passes it", () => {
    expect(app.env).toMatchObject({
      PHP_EXTENSIONS: "mysqli pdo_mysql",
      PHP_MEMORY_LIMIT: "256M",
      NGINX_GZIP: "1",
      TYPE: "real-php-lemp",
    });
    expect(web.env).toEqual({
      STACK_NAME: S,
      NGINX_GZIP: "1",
      NGINX_SECURITY_HEADERS: "1",
      NGINX_CLIENT_MAX_BODY_SIZE: "32m",
    });
    expect(db.env.PHP_MEMORY_LIMIT).toBeUndefined();
  });

  test("nginx's template is rendered for web: fastcgi_pass to <STACK_NAME>_app:9000, the `if` blocks on", () => {
    const conf = configText(m, "nginx_conf.web");
    expect(conf.match(new RegExp(`fastcgi_pass ${S}_app:9000;`, "g"))).toHaveLength(2);
    expect(conf).toContain("client_max_body_size 32m;");
    expect(conf).toContain("gzip on;");
    expect(conf).toContain('add_header X-Content-Type-Options "nosniff" always;');
    expect(conf).not.toMatch(/\{\{|\}\}/);
    // abra.sh's version in the config's name (and one content per service it is rendered for).
    expect(configName(m, "nginx_conf.web")).toBe(`${S}_nginx_conf_v4`);
  });

  test("an `if` block off: gzip left out, under the same name (the recipe's: its version names it, as with abra)", () => {
    const off = load("real-php-lemp", { env: { NGINX_GZIP: "0" } });
    const conf = configText(off, "nginx_conf.web");
    expect(conf).not.toContain("gzip");
    expect(conf).toContain("X-Content-Type-Options");
    expect(configName(off, "nginx_conf.web")).toBe(configName(m, "nginx_conf.web"));
  });

  test("the entrypoint is a templated config mounted executable, rendered with app's env", () => {
    expect(app.entrypoint).toEqual(["/usr/local/bin/site-entrypoint.sh"]);
    expect(app.command).toEqual(["php-fpm"]);
    const ref = app.configs.find((c) => c.target === "/usr/local/bin/site-entrypoint.sh");
    expect(ref).toMatchObject({ key: "entrypoint_conf.app", mode: 0o555 });
    expect(configText(m, "entrypoint_conf.app")).toContain("for ext in mysqli pdo_mysql; do");
    expect(configName(m, "entrypoint_conf.app")).toBe(`${S}_entrypoint_conf_v2`);
    const none = load("real-php-lemp", { env: { PHP_EXTENSIONS: "" } });
    expect(configText(none, "entrypoint_conf.app")).not.toContain("docker-php-ext-install");
  });

  test("a config without template_driver is left as written (PHP expands ${…} itself)", () => {
    expect(configText(m, "php_ini")).toContain("memory_limit = ${PHP_MEMORY_LIMIT}");
    expect(configName(m, "php_ini")).toBe(`${S}_php_ini_v1`);
  });

  test("secrets generated with abra's hints: length=32, and length=48 with charset=default,safespecial", () => {
    const byKey = Object.fromEntries(m.secrets.map((s) => [s.key, s]));
    expect(byKey.db_password).toEqual({
      key: "db_password",
      name: `${S}_db_password_v1`,
      source: {
        kind: "generate",
        length: 32,
        alphabet: CHARSETS.default,
        passphrase: false,
        hinted: true,
      },
    });
    expect(byKey.db_root_password.source).toMatchObject({
      kind: "generate",
      length: 48,
      alphabet: CHARSETS.default + CHARSETS.safespecial,
    });
  });

  test("anchors, healthchecks, tmpfs in bytes, shared volume, abra's timeout label", () => {
    for (const s of [app, web])
      expect(s.restartPolicy).toEqual({ condition: "on-failure", delay: "5s", maxAttempts: 5 });
    expect(app.updateConfig).toMatchObject({ order: "start-first", failureAction: "rollback" });
    expect(app.healthcheck).toMatchObject({ startPeriod: "1m0s", retries: 10 });
    expect(db.healthcheck?.test).toEqual(["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"]);
    expect(db.stopGracePeriod).toBe("30s");
    expect(tmpfs(web, "/var/cache/nginx").map((x) => x.tmpfsSizeBytes)).toEqual([67108864]);
    expect(web.mounts).toContainEqual(
      expect.objectContaining({ type: "volume", source: "site_content", readOnly: true }),
    );
    expect(app.mounts).toContainEqual(
      expect.objectContaining({ type: "volume", source: "site_content", readOnly: false }),
    );
    expect(m.deployTimeout).toBe(300);
    expect(db.labels["backupbot.backup"]).toBe("true");
  });

  test("only web is behind Traefik; app and db are on the internal network only", () => {
    expect(web.routers.map((r) => r.hosts)).toEqual([[m.domain]]);
    expect(web.networks.map((n) => n.network)).toContain("proxy");
    for (const s of [app, db]) expect(s.networks.map((n) => n.network)).toEqual([`${S}_internal`]);
    expect(m.networks).toEqual([expect.objectContaining({ name: `${S}_internal`, internal: true })]);
  });
});

describe("real-five: web, api, worker, db, cache", () => {
  const { model: m } = asRun("real-five");
  const S = m.stackName;
  const svc = (k: string) => service(m, k);

  test("five services; only web on Traefik's network, the rest on the internal one", () => {
    expect(m.services.map((s) => s.key).sort()).toEqual(["api", "cache", "db", "web", "worker"]);
    expect(
      svc("web")
        .networks.map((n) => n.network)
        .sort(),
    ).toEqual(["proxy_0", `${S}_internal`]);
    for (const k of ["api", "cache", "db", "worker"])
      expect(svc(k).networks).toEqual([{ network: `${S}_internal`, aliases: [k] }]);
    expect(m.networks).toEqual([expect.objectContaining({ internal: true })]);
    expect(svc("web").routers.map((r) => r.hosts)).toEqual([[m.domain]]);
  });

  test("every service has a healthcheck and the anchored deploy policies", () => {
    for (const s of m.services) {
      expect(s.healthcheck).toMatchObject({ interval: "5s", timeout: "3s", retries: 20 });
      expect(s.restartPolicy).toMatchObject({ condition: "on-failure", delay: "3s" });
      expect(s.updateConfig).toMatchObject({ order: "start-first", failureAction: "rollback" });
    }
    // $$ in compose is a literal $ in the command the container runs.
    expect(svc("worker").healthcheck?.test[1]).toContain("$(( $(date +%s) - $(stat -c %Y /tmp/worker.ok) ))");
    expect(svc("db").healthcheck?.test).toEqual([
      "CMD-SHELL",
      "pg_isready -U ${POSTGRES_USER} -d ${POSTGRES_DB}",
    ]);
  });

  test("one secret shared by the db and the worker", () => {
    expect(m.secrets).toEqual([
      expect.objectContaining({
        key: "db_password",
        name: `${S}_db_password_v1`,
        source: expect.objectContaining({ kind: "generate", length: 32 }),
      }),
    ]);
    const users = m.services.filter((s) => s.secrets.some((x) => x.key === "db_password"));
    expect(users.map((s) => s.key).sort()).toEqual(["db", "worker"]);
    expect(svc("db").env.POSTGRES_PASSWORD_FILE).toBe("/run/secrets/db_password");
    expect(svc("worker").env).toMatchObject({ PGHOST: `${S}_db`, PGDATABASE: "five", PGUSER: "five" });
  });

  test("the chain web → cache → api is in the rendered configs, by the services' run names", () => {
    expect(configText(m, "web_conf.web")).toContain(`set $cache ${S}_cache;`);
    expect(configText(m, "web_conf.web")).toContain(`<h1>five: ${S}</h1>`);
    const cache = configText(m, "cache_conf.cache");
    expect(cache).toContain(`set $api ${S}_api;`);
    expect(cache).toContain("proxy_cache_valid 200 30s;");
    expect(tmpfs(svc("cache"), "/var/cache/nginx/api").map((x) => x.tmpfsSizeBytes)).toEqual([33554432]);
    expect(svc("api").mode).toEqual({ replicas: 2 });
    expect(svc("api").env.WHOAMI_NAME).toBe(`${S}_api`);
  });

  test("the worker's script is a plain config, executable, and its entrypoint", () => {
    expect(svc("worker").entrypoint).toEqual(["/usr/local/bin/worker.sh"]);
    expect(svc("worker").configs).toEqual([
      expect.objectContaining({ key: "worker_sh", target: "/usr/local/bin/worker.sh", mode: 0o555 }),
    ]);
    expect(configName(m, "worker_sh")).toBe(`${S}_worker_sh_v3`);
  });

  test("no service is named app: none gets the whole env file", () => {
    for (const s of m.services) expect(s.env.TYPE).toBeUndefined();
  });

  test("depends_on is read and warned about (swarm ignores it)", () => {
    for (const k of ["web", "cache", "api", "worker"])
      expect(m.warnings.join("\n")).toMatch(new RegExp(`services\\.${k}\\.depends_on`));
  });
});

describe("real-pg-overlays: PostgreSQL and its tuning in overlays of a subfolder", () => {
  const m = load("real-pg-overlays");
  const S = m.stackName;
  const db = service(m, "db");

  test("COMPOSE_FILE chains the three files, the overlays in postgres/", () => {
    expect(m.composeFiles).toEqual([
      "compose.yml",
      "postgres/compose.postgres.yml",
      "postgres/compose.tune.yml",
    ]);
  });

  test("the tuning overlay's /dev/shm replaces the base overlay's (Docker merges volumes by target)", () => {
    expect(tmpfs(db, "/dev/shm").map((x) => x.tmpfsSizeBytes)).toEqual([134217728]);
    expect(db.env).toMatchObject({ PG_TUNE: "1", PG_MAX_CONNECTIONS: "50", POSTGRES_DB: "app" });
    expect(db.resources?.limits?.memoryBytes).toBe(768 * 1024 ** 2);
  });

  test("without the tuning overlay: the base overlay's size and no tuning", () => {
    const base = load("real-pg-overlays", {
      env: { COMPOSE_FILE: "compose.yml:postgres/compose.postgres.yml" },
    });
    const d = service(base, "db");
    expect(tmpfs(d, "/dev/shm").map((x) => x.tmpfsSizeBytes)).toEqual([67108864]);
    expect(d.env.PG_TUNE).toBeUndefined();
    expect(d.resources?.limits?.memoryBytes).toBe(512 * 1024 ** 2);
  });

  test("a file named from an overlay in a subfolder is found from the recipe's root", () => {
    expect(db.configs).toEqual([
      expect.objectContaining({ key: "pg_entrypoint", target: "/pg-entrypoint.sh", mode: 0o555 }),
    ]);
    expect(configText(m, "pg_entrypoint")).toContain("df -B1 --output=size /dev/shm");
    expect(configName(m, "pg_entrypoint")).toBe(`${S}_pg_entrypoint_v2`);
    expect(db.entrypoint).toEqual(["/pg-entrypoint.sh"]);
  });

  test("the database reports to the app through a shared volume (read-only in the app)", () => {
    expect(service(m, "app").mounts).toContainEqual(
      expect.objectContaining({ source: "status", target: "/usr/share/nginx/html/status", readOnly: true }),
    );
    expect(db.mounts).toContainEqual(
      expect.objectContaining({ source: "status", target: "/srv/status", readOnly: false }),
    );
    expect(m.volumes.map((v) => v.name).sort()).toEqual([`${S}_db_data`, `${S}_status`]);
    expect(m.secrets[0].source).toMatchObject({ kind: "generate", length: 40 });
  });
});

describe("real-versions-aliases: abra.sh versions, if/else in a template, EXTRA_DOMAINS", () => {
  const { model: m, plan } = asRun("real-versions-aliases");
  const d = plan.domain;
  const app = service(m, "app");

  test("abra.sh's NGINX_CONF_VERSION names the config", () => {
    expect(m.env.NGINX_CONF_VERSION).toBe("v3");
    expect(configName(m, "nginx_conf.app")).toBe(`${m.stackName}_nginx_conf_v3`);
  });

  test("each alias is routed under the run's domain, with the main domain", () => {
    expect(app.routers).toHaveLength(1);
    expect([...app.routers[0].hosts].sort()).toEqual([d, `site-example-org.${d}`, `www.${d}`]);
    expect(app.routers[0].rule).toBe(`Host(\`${d}\`, \`www.${d}\`, \`site-example-org.${d}\`)`);
    expect(m.warnings).toEqual(
      expect.arrayContaining([
        `EXTRA_DOMAINS: www.site.example.com is served at www.${d} in this run`,
        `EXTRA_DOMAINS: site.example.org is served at site-example-org.${d} in this run`,
      ]),
    );
    // What .cc-ci/test expects of the mapping.
    expect(mapExtraDomains(", `www.site.example.com`", "site.example.com", d).value).toBe(`, \`www.${d}\``);
  });

  test("the `if` branch (REDIRECT_ALIASES=1): aliases redirect to the run's domain", () => {
    const conf = configText(m, "nginx_conf.app");
    expect(conf).toContain(`return 301 $origin_scheme://${d}$request_uri;`);
    expect(conf).toContain(`server_name ${d};`);
    expect(conf).toContain("<title>Versions and aliases</title>");
  });

  test("the `else` branch (REDIRECT_ALIASES=0): every name serves the site, the config named as before", () => {
    const other = asRun("real-versions-aliases", { env: { REDIRECT_ALIASES: "0" } }).model;
    const conf = configText(other, "nginx_conf.app");
    expect(conf).not.toContain("return 301");
    expect(conf).toContain(`server_name ${other.domain} _;`);
    expect(configName(other, "nginx_conf.app")).toBe(`${other.stackName}_nginx_conf_v3`);
  });

  test("the template reads app's env: values of the env file it was given by abra's rule", () => {
    expect(app.env).toMatchObject({ DOMAIN: d, REDIRECT_ALIASES: "1", SITE_TITLE: "Versions and aliases" });
    expect(app.env.EXTRA_DOMAINS).toBe(`, \`www.${d}\`, \`site-example-org.${d}\``);
  });
});

describe("real-sso-backchannel: oauth2-proxy finds the run's realm from inside its container", () => {
  const { model: m, plan } = asRun("real-sso-backchannel");
  const app = service(m, "app");
  const issuer = `${KEYCLOAK.publicUrl}/realms/${plan.names.realm}`;

  test(".cc-ci/env points oauth2-proxy at the run's realm, client and callback", () => {
    expect(app.env).toMatchObject({
      OAUTH2_PROXY_PROVIDER: "oidc",
      OAUTH2_PROXY_OIDC_ISSUER_URL: issuer,
      OAUTH2_PROXY_CLIENT_ID: plan.names.realm,
      OAUTH2_PROXY_CLIENT_SECRET: placeholder("CI_OIDC_CLIENT_SECRET"),
      OAUTH2_PROXY_REDIRECT_URL: `${plan.appUrl}/oauth2/callback`,
      OAUTH2_PROXY_COOKIE_SECURE: "false",
      OAUTH2_PROXY_HTTP_ADDRESS: "0.0.0.0:4180",
      OAUTH2_PROXY_UPSTREAMS: `http://${m.stackName}_backend:80`,
      OAUTH2_PROXY_SKIP_PROVIDER_BUTTON: "true",
    });
  });

  test("as abra sees it (no .cc-ci/): the operator's provider, the secret file, https", () => {
    const dir = withoutCiFiles("real-sso-backchannel");
    const plain = loadRecipe({ ...options("real-sso-backchannel"), dir });
    expect(service(plain, "app").env).toMatchObject({
      OAUTH2_PROXY_OIDC_ISSUER_URL: "https://id.example.com/realms/main",
      OAUTH2_PROXY_CLIENT_ID: "private",
      OAUTH2_PROXY_CLIENT_SECRET: "",
      OAUTH2_PROXY_CLIENT_SECRET_FILE: "/run/secrets/client_secret",
      // godotenv expanded ${DOMAIN} from the line above (the run's domain stands in for it).
      OAUTH2_PROXY_REDIRECT_URL: `https://${plain.domain}/oauth2/callback`,
      OAUTH2_PROXY_COOKIE_SECURE: "true",
    });
  });

  test("the cookie secret is generated (length=32); the client secret is the operator's", () => {
    const byKey = Object.fromEntries(m.secrets.map((s) => [s.key, s.source]));
    expect(byKey.cookie_secret).toMatchObject({ kind: "generate", length: 32, passphrase: false });
    expect(m.warnings.join("\n")).toMatch(/secrets\.client_secret: marked generate=false/);
    const fromRun = asRun("real-sso-backchannel", {
      secretFromVar: { client_secret: "CI_OIDC_CLIENT_SECRET" },
    }).model;
    expect(fromRun.secrets.find((s) => s.key === "client_secret")?.source).toEqual({
      kind: "run",
      variable: "CI_OIDC_CLIENT_SECRET",
    });
  });

  test("only oauth2-proxy is behind Traefik (port 4180); the backend is internal", () => {
    expect(app.routers.map((r) => r.hosts)).toEqual([[plan.domain]]);
    expect(label(app.labels, `traefik.http.services.${m.stackName}.loadbalancer.server.port`)).toBe("4180");
    const backend = service(m, "backend");
    expect(backend.routers).toEqual([]);
    expect(backend.networks.map((n) => n.network)).toEqual([`${m.stackName}_internal`]);
    expect(app.healthcheck).toBeUndefined();
    expect(backend.healthcheck?.test[0]).toBe("CMD");
  });

  test("the run's client secret reaches no label and no config", () => {
    for (const s of m.services) expect(JSON.stringify(s.labels)).not.toContain("cc-ci-secret");
    expect(m.configs).toEqual([]);
  });
});
