/** The recipe loader: each feature real recipes use, and each refusal. */
import { load, problemsOf, names, options, tempRecipe } from "../helpers/recipes";
import { loadRecipe } from "../../lib/recipe/load";
import { RecipePolicy } from "../../lib/config";

const full = load("full");
const app = full.services.find((s) => s.key === "app")!;
const db = full.services.find((s) => s.key === "db")!;

describe("recipe loader: supported features", () => {
  test("COMPOSE_FILE lists that refer to themselves, with overlays in subfolders", () => {
    expect(full.composeFiles).toEqual(["compose.yml", "overlays/compose.smtp.yml"]);
    expect(app.env.SMTP_HOST).toBe("smtp.example.org");
    expect(app.labels[`coop-cloud.${names.stackName}.smtp`]).toBe("enabled");
  });

  test("${VAR}, ${VAR:-default}, $$ escapes and single-quoted literals", () => {
    expect(app.env.MISSING_DEFAULT).toBe("fallback");
    expect(app.env.DOLLAR).toBe("costs $5");
    expect(app.env.APP_TITLE).toBe("A $literal title");
    expect(app.labels[`traefik.http.middlewares.${names.stackName}-redirect.redirectregex.replacement`]).toBe(
      "https://${1}",
    );
  });

  test("YAML anchors and merge keys", () => {
    expect(app.env.LOG_LEVEL).toBe("debug");
    expect(app.env.DB_HOST).toBe(`${names.stackName}_db`);
    expect(db.restartPolicy).toEqual({
      condition: "on-failure",
      maxAttempts: 3,
      delay: "5s",
      window: undefined,
    });
    expect(db.updateConfig).toMatchObject({
      parallelism: 1,
      order: "start-first",
      failureAction: "rollback",
    });
  });

  test("environment as a list or a map; bare names pass through from .env", () => {
    expect(app.env.DB_NAME).toBe("fulldb");
    expect(db.env).toEqual({ POSTGRES_DB: "fulldb", POSTGRES_PASSWORD_FILE: "/run/secrets/db_password" });
  });

  test("deploy.labels as a list or a map, with the run's labels added", () => {
    expect(db.labels).toMatchObject({ "backupbot.backup": "true", "cc-ci.run": names.runId });
    expect(app.labels["traefik.enable"]).toBe("true");
  });

  test("Traefik routers named after STACK_NAME, rules on the run's domain, names made unique", () => {
    expect(app.labels[`traefik.http.routers.${names.stackName}.rule`]).toBe(
      `Host(\`${names.runId}.ci.test\`) || Host(\`www.${names.runId}.ci.test\`)`,
    );
    // A router the recipe named "plain" is renamed, and its references follow.
    expect(app.labels[`traefik.http.routers.${names.stackName}-plain.rule`]).toBe(
      `Host(\`plain.${names.runId}.ci.test\`)`,
    );
    expect(app.labels[`traefik.http.routers.${names.stackName}.middlewares`]).toBe(
      `${names.stackName}-redirect`,
    );
    expect(app.labels["traefik.swarm.network"]).toBe("proxy");
    expect(app.routers.map((r) => r.name)).toEqual([names.stackName, `${names.stackName}-plain`]);
  });

  test("certresolver labels map to the CI's resolver, or give way to Traefik's certificate", () => {
    const web = load("web", { certResolver: "ccci-acme" }).services[0];
    const router = `traefik.http.routers.${names.stackName}`;
    expect(web.labels[`${router}.tls.certresolver`]).toBe("ccci-acme");
    const plain = load("web").services[0];
    expect(plain.labels[`${router}.tls.certresolver`]).toBeUndefined();
    expect(plain.labels[`${router}.tls`]).toBe("true");
  });

  test("over plain HTTP, a router only on web-secure gets a twin on web", () => {
    const web = load("web", { plainHttp: true }).services[0];
    const twin = `traefik.http.routers.${names.stackName}-http`;
    expect(web.labels[`${twin}.rule`]).toBe(web.labels[`traefik.http.routers.${names.stackName}.rule`]);
    expect(web.labels[`${twin}.entrypoints`]).toBe("web");
    expect(Object.keys(web.labels).some((k) => k.startsWith(`${twin}.tls`))).toBe(false);
    expect(Object.keys(load("web").services[0].labels).some((k) => k.startsWith(twin))).toBe(false);
  });

  test("secrets: external with versioned names, length hints, generate=false", () => {
    const byKey = Object.fromEntries(full.secrets.map((s) => [s.key, s]));
    expect(byKey.db_password.name).toBe(`${names.stackName}_db_password_v1`);
    expect(byKey.db_password.source).toMatchObject({ kind: "generate", length: 48 });
    expect(byKey.api_key.source).toMatchObject({ kind: "generate", length: 32 });
    expect(byKey.smtp_password.name).toBe(`${names.stackName}_smtp_password_v2`);
    expect(full.warnings.join("\n")).toMatch(/smtp_password: marked generate=false/);
    expect(app.secrets.find((s) => s.key === "api_key")).toEqual({
      key: "api_key",
      target: "/run/secrets/api.key",
      mode: 0o400,
      uid: undefined,
      gid: undefined,
    });
  });

  test("configs with template_driver golang, rendered with env and secrets", () => {
    expect(full.configs).toHaveLength(1);
    const c = full.configs[0];
    expect(c.sensitive).toBe(true);
    expect(c.parts).toEqual([
      expect.stringContaining("title = A $literal title\ndb_name = fulldb\ndb_password = "),
      { secret: "db_password" },
      "\n",
    ]);
    expect(c.name.length).toBeLessThanOrEqual(64);
    expect(app.configs).toEqual([{ key: c.key, target: "/etc/app/app.conf" }]);
  });

  test("healthcheck with CMD and CMD-SHELL (a string is CMD-SHELL)", () => {
    expect(db.healthcheck).toEqual({
      test: ["CMD-SHELL", "pg_isready -d fulldb"],
      interval: "5s",
      timeout: "5s",
      startPeriod: "10s",
      retries: 10,
    });
    expect(app.healthcheck?.test).toEqual(["CMD-SHELL", "curl -fsS http://localhost/ || exit 1"]);
    expect(load("web").services[0].healthcheck?.test.slice(0, 3)).toEqual(["CMD", "bash", "-c"]);
    // $$ in the recipe is a literal $ in the container's command.
    expect(load("web").services[0].healthcheck?.test[3]).toContain("[[ $s == *' 200 '* ]]");
  });

  test("networks: external proxy and a per-run internal network with aliases", () => {
    expect(full.networks).toEqual([
      { key: "internal", name: `${names.stackName}_internal`, internal: true, driverOpts: {} },
    ]);
    expect(app.networks).toEqual([
      { network: "proxy", aliases: [] },
      { network: `${names.stackName}_internal`, aliases: ["app"] },
    ]);
    expect(db.networks).toEqual([{ network: `${names.stackName}_internal`, aliases: ["db", "database"] }]);
  });

  test("named volumes, tmpfs, stop_grace_period, logging, resources", () => {
    expect(full.volumes.map((v) => v.name)).toEqual([
      `${names.stackName}_app_data`,
      `${names.stackName}_db_data`,
    ]);
    expect(app.mounts).toEqual([
      { type: "volume", source: "app_data", target: "/var/lib/app", readOnly: false },
      { type: "tmpfs", target: "/var/cache/app", readOnly: false, tmpfsSizeBytes: 16 * 1024 * 1024 },
      { type: "tmpfs", target: "/run/app", readOnly: false },
    ]);
    expect(app.stopGracePeriod).toBe("20s");
    expect(app.logging).toEqual({ driver: "json-file", options: { "max-size": "10m" } });
    expect(app.resources?.limits).toEqual({ memoryBytes: 256 * 1024 * 1024, nanoCpus: 5e8 });
  });

  test("depends_on is accepted, with a warning that swarm ignores the order", () => {
    expect(full.warnings.join("\n")).toMatch(/depends_on/);
  });

  test("every service name carries the run prefix and fits Swarm's limit", () => {
    for (const s of full.services) {
      expect(s.name.startsWith(`${names.stackName}_`)).toBe(true);
      expect(s.name.length).toBeLessThanOrEqual(63);
    }
  });

  test("operator env overrides and image substitutions", () => {
    const m = load("full", { env: { DB_NAME: "otherdb" }, images: { postgres: "cc-ci/postgres:15" } });
    const d = m.services.find((s) => s.key === "db")!;
    expect(d.env.POSTGRES_DB).toBe("otherdb");
    expect(d.image).toBe("cc-ci/postgres:15");
  });

  test("a recipe secret can take the run's OIDC client secret", () => {
    const m = load("sso", { secretFromVar: { oidc_client_secret: "CI_OIDC_CLIENT_SECRET" } });
    expect(m.secrets[0].source).toEqual({ kind: "run", variable: "CI_OIDC_CLIENT_SECRET" });
  });
});

describe("recipe loader: refusals", () => {
  test("privileged, host network, added capabilities, the Docker socket and binds outside the recipe", () => {
    const p = problemsOf("broken-policy");
    expect(p).toEqual([
      expect.stringMatching(/^services\.app\.privileged: a privileged service is refused/),
      expect.stringMatching(/^services\.app\.network_mode: network_mode: host is refused/),
      expect.stringMatching(/^services\.app\.cap_add: added capabilities \(SYS_ADMIN\)/),
      expect.stringMatching(/^services\.app\.volumes\[0\]: mounting the Docker socket/),
      expect.stringMatching(/^services\.app\.volumes\[1\]: bind mount of \/etc/),
      expect.stringMatching(/^services\.app\.volumes\[2\]: bind mount of \.\.\/\.\.\//),
    ]);
  });

  test("the operator's policy allows them", () => {
    const policy = RecipePolicy.parse({
      privileged: true,
      hostNamespaces: true,
      dockerSocket: true,
      bindMountsOutsideRecipe: true,
      capabilities: true,
    });
    const m = loadRecipe({ ...options("broken-policy"), policy });
    expect(m.services[0].mounts.map((x) => x.source)).toEqual([
      "/var/run/docker.sock",
      "/etc",
      expect.stringMatching(/^\//),
    ]);
  });

  test("broken YAML names the file and line", () => {
    expect(problemsOf("broken-yaml")[0]).toMatch(/^compose\.yml: YAML: .* at line 4/);
  });

  test("references to undeclared networks, secrets, volumes, configs; empty image; bad healthcheck", () => {
    const p = problemsOf("broken-refs");
    expect(p).toEqual([
      "services.app.image: is empty",
      "services.app.networks.nowhere: refers to a network the recipe does not declare",
      'services.app.volumes[0]: volume "undeclared" is not declared in the top-level volumes',
      'services.app.secrets[0]: secret "ghost" is not declared in the top-level secrets',
      'services.app.healthcheck.test: must start with CMD, CMD-SHELL or NONE, got "RUN"',
      'services.other.configs[0]: config "missing_config" is not declared in the top-level configs',
    ]);
  });

  test("unknown and ignored keys are dropped with a warning, never silently", () => {
    const dir = tempRecipe({
      "compose.yml":
        "services:\n  app:\n    image: x\n    frobnicate: 1\n    ports: ['8080:80']\n    container_name: fixed\nx-anchor: {}\nsomething: else\n",
    });
    const m = loadRecipe({ ...options("web"), dir });
    expect(m.warnings).toEqual(
      expect.arrayContaining([
        "services.app.frobnicate: not supported by this loader; dropped",
        expect.stringMatching(/^services\.app\.ports: published ports are not exposed in CI/),
        "services.app.container_name: ignored by docker stack deploy; dropped",
        'top-level key "something" is not supported by docker stack deploy; ignored',
      ]),
    );
  });

  test("an anonymous volume becomes a labelled volume of the run", () => {
    const dir = tempRecipe({ "compose.yml": "services:\n  app:\n    image: x\n    volumes: ['/data']\n" });
    const m = loadRecipe({ ...options("web"), dir });
    expect(m.volumes).toHaveLength(1);
    expect(m.volumes[0].name.startsWith(`${names.stackName}_app_anon_`)).toBe(true);
  });

  test("routers outside the run's domain, or without a Host rule", () => {
    expect(problemsOf("broken-host")).toEqual([
      expect.stringMatching(/routes host "bank\.example\.com", outside the run's domain/),
      expect.stringMatching(/traefik\.http\.routers\.catchall\.rule: a router without a Host\(\) rule/),
    ]);
  });

  test("template actions it cannot render, and secrets the service does not mount", () => {
    const p = problemsOf("broken-template");
    expect(p.some((x) => /unsupported template action \{\{ if eq/.test(x))).toBe(true);
    expect(p.some((x) => /no secret "not_mounted" is mounted/.test(x))).toBe(true);
  });

  test(".env.sample problems by line, a required variable, a missing overlay", () => {
    expect(problemsOf("broken-env")).toEqual([
      '.env.sample:2: not a KEY=value line: "this line is not an assignment"',
      ".env.sample:4: REQUIRED: required variable MUST_BE_SET is missing a value: set MUST_BE_SET in .env",
      '.env.sample:5: QUOTE: unterminated "-quoted value',
      "COMPOSE_FILE: compose.missing.yml does not exist",
    ]);
  });

  test("a folder that is not there", () => {
    expect(() => load("does-not-exist")).toThrow(/is not a folder/);
  });
});
