/**
 * The recipe loader: each feature real recipes use, read as `docker stack deploy` and abra read it
 * (Docker's own loader and template renderer, Traefik's own label decoder are in the path), and each
 * refusal, with its file and line.
 */
import { chmodSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { load, problemsOf, names, options, tempRecipe } from "../helpers/recipes";
import { loadRecipe } from "../../lib/recipe/load";
import { RecipePolicy, RunLimits } from "../../lib/config";
import { CHARSETS, parseEnvFile } from "../../lib/recipe/envfile";

const full = load("full");
const app = full.services.find((s) => s.key === "app")!;
const db = full.services.find((s) => s.key === "db")!;
const S = names.stackName;

/** A label as Traefik reads it: key compared case-insensitively (Traefik's encoder writes Go field names). */
function label(labels: Record<string, string>, key: string): string | undefined {
  const k = Object.keys(labels).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : labels[k];
}

describe("recipe loader: supported features", () => {
  test("COMPOSE_FILE lists that refer to themselves, with overlays in subfolders", () => {
    expect(full.composeFiles).toEqual(["compose.yml", "overlays/compose.smtp.yml"]);
    expect(app.env.SMTP_HOST).toBe("smtp.example.org");
    expect(app.labels[`coop-cloud.${S}.smtp`]).toBe("enabled");
  });

  test("${VAR}, ${VAR:-default}, $$ escapes and single-quoted literals", () => {
    expect(app.env.MISSING_DEFAULT).toBe("fallback");
    expect(app.env.DOLLAR).toBe("costs $5");
    expect(app.env.APP_TITLE).toBe("A $literal title");
    expect(label(app.labels, `traefik.http.middlewares.${S}-redirect.redirectregex.replacement`)).toBe(
      "https://${1}",
    );
  });

  test("YAML anchors and merge keys", () => {
    expect(app.env.LOG_LEVEL).toBe("debug");
    expect(app.env.DB_HOST).toBe(`${S}_db`);
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

  test("environment as a list or a map; bare names take the env file's value", () => {
    expect(app.env.DB_NAME).toBe("fulldb");
    expect(db.env).toEqual({ POSTGRES_DB: "fulldb", POSTGRES_PASSWORD_FILE: "/run/secrets/db_password" });
  });

  test("abra exposes the whole env file to the service named app, never overriding its environment", () => {
    expect(app.env).toMatchObject({
      GREETING: "Hi fulldb",
      TYPE: "full",
      STACK_NAME: S,
      DOMAIN: `${names.runId}.ci.test`,
    });
    expect(db.env.GREETING).toBeUndefined();
    const dir = tempRecipe({
      ".env.sample": "X=from-env\nY=also\n",
      "compose.yml": "version: '3.8'\nservices:\n  app:\n    image: x\n    environment:\n      X: own\n",
    });
    const m = loadRecipe({ ...options("web"), dir });
    expect(m.services[0].env).toMatchObject({ X: "own", Y: "also" });
  });

  test("deploy.labels as a list or a map, with the run's labels added", () => {
    expect(db.labels).toMatchObject({ "backupbot.backup": "true", "cc-ci.run": names.runId });
    expect(label(app.labels, "traefik.enable")).toBe("true");
  });

  test("Traefik routers named after STACK_NAME, rules on the run's domain, other names made the run's", () => {
    expect(label(app.labels, `traefik.http.routers.${S}.rule`)).toBe(
      `Host(\`${names.runId}.ci.test\`) || Host(\`www.${names.runId}.ci.test\`)`,
    );
    expect(label(app.labels, `traefik.http.routers.${S}-plain.rule`)).toBe(
      `Host(\`plain.${names.runId}.ci.test\`)`,
    );
    expect(label(app.labels, `traefik.http.routers.${S}-plain.service`)).toBe(S);
    expect(label(app.labels, `traefik.http.routers.${S}.middlewares`)).toBe(`${S}-redirect`);
    expect(label(app.labels, "traefik.swarm.network")).toBe("proxy");
    expect(app.routers.map((r) => r.name).sort()).toEqual([S, `${S}-plain`]);
  });

  test("certresolver labels map to the CI's resolver, or give way to Traefik's certificate", () => {
    const web = load("web", { certResolver: "ccci-acme" }).services[0];
    expect(label(web.labels, `traefik.http.routers.${S}.tls.certresolver`)).toBe("ccci-acme");
    const plain = load("web").services[0];
    expect(label(plain.labels, `traefik.http.routers.${S}.tls.certresolver`)).toBeUndefined();
    expect(label(plain.labels, `traefik.http.routers.${S}.tls`)).toBe("true");
  });

  test("over plain HTTP, a router only on web-secure gets a twin on web, without TLS", () => {
    const web = load("web", { plainHttp: true }).services[0];
    const twin = `traefik.http.routers.${S}-http`;
    expect(label(web.labels, `${twin}.rule`)).toBe(label(web.labels, `traefik.http.routers.${S}.rule`));
    expect(label(web.labels, `${twin}.entrypoints`)).toBe("web");
    expect(Object.keys(web.labels).some((k) => k.toLowerCase().startsWith(`${twin}.tls`))).toBe(false);
    expect(Object.keys(load("web").services[0].labels).some((k) => k.toLowerCase().startsWith(twin))).toBe(
      false,
    );
  });

  test("secrets: external with versioned names, abra's length and generate hints, passphrases without a length", () => {
    const byKey = Object.fromEntries(full.secrets.map((s) => [s.key, s]));
    expect(byKey.db_password.name).toBe(`${S}_db_password_v1`);
    expect(byKey.db_password.source).toMatchObject({
      kind: "generate",
      length: 48,
      passphrase: false,
      alphabet: CHARSETS.default,
    });
    // No length hint: abra makes a passphrase of six words.
    expect(byKey.api_key.source).toMatchObject({ kind: "generate", length: 6, passphrase: true });
    expect(byKey.smtp_password.name).toBe(`${S}_smtp_password_v2`);
    expect(full.warnings.join("\n")).toMatch(/smtp_password: marked generate=false/);
    expect(app.secrets.find((s) => s.key === "api_key")).toEqual({
      key: "api_key",
      target: "/run/secrets/api.key",
      mode: 0o400,
      uid: undefined,
      gid: undefined,
    });
  });

  test("charset hints take abra's alphabets; an unknown charset falls back to the default, as abra does", () => {
    const dir = tempRecipe({
      ".env.sample":
        "SECRET_A_VERSION=v1 # length=20 charset=special\nSECRET_B_VERSION=v1 # length=20 charset=default,safespecial\nSECRET_C_VERSION=v1 # length=64 charset=hex\n",
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\nsecrets:\n  a:\n    external: true\n    name: a_${SECRET_A_VERSION}\n  b:\n    external: true\n    name: b_${SECRET_B_VERSION}\n  c:\n    external: true\n    name: c_${SECRET_C_VERSION}\n",
    });
    const m = loadRecipe({ ...options("web"), dir });
    const src = Object.fromEntries(
      m.secrets.map((s) => [s.key, s.source as { alphabet: string; length: number }]),
    );
    expect(src.a.alphabet).toBe("!@#$%^&*_-+=");
    expect(src.b.alphabet).toBe(CHARSETS.default + "!@#%^&*_-+=");
    expect(src.c).toMatchObject({ alphabet: CHARSETS.default, length: 64 });
    expect(m.warnings.join("\n")).toMatch(/charset=hex is not one of abra's/);
  });

  test("abra.sh's exports are the versions of configs and secrets", () => {
    const dir = tempRecipe({
      "abra.sh": "#!/bin/bash\nexport NGINX_CONF_VERSION=v7\nexport WHEN=$(date)\nfunction f() { :; }\n",
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\n    configs: [{source: nginx_conf, target: /etc/nginx.conf}]\nconfigs:\n  nginx_conf:\n    name: ${STACK_NAME}_nginx_conf_${NGINX_CONF_VERSION}\n    file: nginx.conf\n",
      "nginx.conf": "x\n",
    });
    const m = loadRecipe({ ...options("web"), dir });
    expect(m.configs[0].name).toBe(`${S}_nginx_conf_v7`);
    expect(m.warnings.join("\n")).toMatch(/abra\.sh:3: only plain `export NAME=value` lines are read/);
  });

  test("configs with template_driver golang, rendered by Docker's code with env, secrets and conditionals", () => {
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
    const dir = tempRecipe({
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\n    environment: [MODE=prod]\n    configs: [{source: c, target: /c}]\n  web:\n    image: x\n    configs: [{source: c, target: /c}]\nconfigs:\n  c: {file: c.tmpl, template_driver: golang}\n",
      "c.tmpl":
        '{{ if eq (env "MODE") "prod" }}gzip on;{{ else }}gzip off;{{ end }} [{{ env "UNSET" }}] {{ .Service.Name }}\n',
    });
    const m = loadRecipe({ ...options("web"), dir });
    const text = (svc: string) => m.configs.find((x) => x.key === `c.${svc}`)!.parts.join("");
    expect(text("app")).toBe(`gzip on; [] ${S}_app\n`);
    expect(text("web")).toBe(`gzip off; [] ${S}_web\n`);
  });

  test("healthcheck with CMD and CMD-SHELL (a string is CMD-SHELL); $$ is a literal $", () => {
    expect(db.healthcheck).toEqual({
      test: ["CMD-SHELL", "pg_isready -d fulldb"],
      interval: "5s",
      timeout: "5s",
      startPeriod: "10s",
      retries: 10,
    });
    expect(app.healthcheck?.test).toEqual(["CMD-SHELL", "curl -fsS http://localhost/ || exit 1"]);
    const web = load("web").services[0];
    expect(web.healthcheck?.test.slice(0, 3)).toEqual(["CMD", "bash", "-c"]);
    expect(web.healthcheck?.test[3]).toContain("[[ $s == *' 200 '* ]]");
  });

  test("networks: external proxy and a per-run internal network with aliases", () => {
    expect(full.networks).toEqual([
      { key: "internal", name: `${S}_internal`, internal: true, driverOpts: {} },
    ]);
    expect(app.networks).toEqual(
      expect.arrayContaining([
        { network: "proxy", aliases: [] },
        { network: `${S}_internal`, aliases: ["app"] },
      ]),
    );
    expect(db.networks).toEqual([{ network: `${S}_internal`, aliases: ["db", "database"] }]);
  });

  test("named volumes, tmpfs with its size, stop_grace_period, logging, resources", () => {
    expect(full.volumes.map((v) => v.name).sort()).toEqual([`${S}_app_data`, `${S}_db_data`]);
    expect(app.mounts).toEqual([
      { type: "tmpfs", target: "/var/cache/app", readOnly: false, tmpfsSizeBytes: 16 * 1024 * 1024 },
      { type: "volume", source: "app_data", target: "/var/lib/app", readOnly: false, noCopy: undefined },
    ]);
    expect(app.stopGracePeriod).toBe("20s");
    // The recipe's max-size kept (within the budget), max-file forced.
    expect(app.logging).toEqual({ driver: "json-file", options: { "max-size": "10m", "max-file": "3" } });
    expect(app.resources?.limits).toEqual({ memoryBytes: 256 * 1024 * 1024, nanoCpus: 5e8 });
  });

  test("overlays that repeat a mount target replace it, as Docker merges them", () => {
    const dir = tempRecipe({
      ".env.sample": 'COMPOSE_FILE="compose.yml:pg/compose.tune.yml"\n',
      "compose.yml":
        "version: '3.8'\nservices:\n  db:\n    image: x\n    volumes:\n      - {type: tmpfs, target: /dev/shm, tmpfs: {size: 1000000}}\n",
      "pg/compose.tune.yml":
        "version: '3.8'\nservices:\n  db:\n    volumes:\n      - {type: tmpfs, target: /dev/shm, tmpfs: {size: 64000000}}\n",
    });
    const m = loadRecipe({ ...options("web"), dir });
    expect(m.services[0].mounts).toEqual([
      { type: "tmpfs", target: "/dev/shm", readOnly: false, tmpfsSizeBytes: 64000000 },
    ]);
  });

  test("the run's limits: defaults where the recipe sets none, a tmpfs without size bounded", () => {
    const dir = tempRecipe({
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\n    volumes: [{type: tmpfs, target: /tmp}]\n",
    });
    const s = loadRecipe({ ...options("web"), dir }).services[0];
    const limits = RunLimits.parse({});
    expect(s.resources?.limits).toEqual({ memoryBytes: 512 * 1024 ** 2, nanoCpus: limits.cpus * 1e9 });
    expect(s.mounts[0].tmpfsSizeBytes).toBe(256 * 1024 ** 2);
  });

  test("depends_on and the service-level tmpfs key: Docker drops them; we say so", () => {
    expect(full.warnings.join("\n")).toMatch(/compose\.yml:\d+: services\.app\.depends_on/);
    expect(full.warnings.join("\n")).toMatch(/services\.app\.tmpfs: docker stack deploy ignores/);
  });

  test("every service name carries the run prefix and fits Swarm's limit", () => {
    for (const s of full.services) {
      expect(s.name.startsWith(`${S}_`)).toBe(true);
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

  test("EXTRA_DOMAINS aliases are mapped under the run's domain and routed", () => {
    const dir = tempRecipe({
      ".env.sample": "DOMAIN=app.example.com\nEXTRA_DOMAINS=', `www.app.example.com`, `app.example.org`'\n",
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\n    networks: [proxy]\n    deploy:\n      labels:\n        - traefik.enable=true\n        - traefik.http.services.${STACK_NAME}.loadbalancer.server.port=80\n        - traefik.http.routers.${STACK_NAME}.rule=Host(`${DOMAIN}`${EXTRA_DOMAINS})\nnetworks:\n  proxy: {external: true}\n",
    });
    const m = loadRecipe({ ...options("web"), dir });
    const d = `${names.runId}.ci.test`;
    expect(m.services[0].routers[0].hosts.sort()).toEqual([`app-example-org.${d}`, d, `www.${d}`]);
    expect(m.warnings.join("\n")).toMatch(/EXTRA_DOMAINS: www\.app\.example\.com is served at www\./);
  });

  test("EXTRA_DOMAINS: an alias already under the run's domain stays; one nothing expanded is a problem", () => {
    const recipe = (extra: string) =>
      tempRecipe({
        ".env.sample": `DOMAIN=app.example.com\nEXTRA_DOMAINS=${extra}\n`,
        "compose.yml":
          "version: '3.8'\nservices:\n  app:\n    image: x\n    networks: [proxy]\n    deploy:\n      labels:\n        - traefik.enable=true\n        - traefik.http.services.a.loadbalancer.server.port=80\n        - 'traefik.http.routers.a.rule=Host(`${DOMAIN}`${EXTRA_DOMAINS})'\nnetworks:\n  proxy: {external: true}\n",
      });
    const d = `${names.runId}.ci.test`;
    // Double quotes: godotenv expands ${DOMAIN}, which in a run is already the run's domain.
    const expanded = loadRecipe({ ...options("web"), dir: recipe('", `www.${DOMAIN}`"') });
    expect(expanded.services[0].routers[0].hosts.sort()).toEqual([d, `www.${d}`]);
    // Single quotes keep it literal: a broken alias under abra too, so refused here.
    expect(problemsOf("web", { dir: recipe("', `www.${DOMAIN}`'") }).join("\n")).toMatch(
      /EXTRA_DOMAINS: `www\.\$\{DOMAIN\}` is not a host name/,
    );
  });

  test("HostRegexp confined to the run's domain is accepted", () => {
    const dir = tempRecipe({
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\n    deploy:\n      labels:\n        - traefik.enable=true\n        - traefik.http.services.a.loadbalancer.server.port=80\n        - 'traefik.http.routers.a.rule=HostRegexp(`^[a-z]+\\.full-a1b2c3\\.ci\\.test$$`)'\n        - traefik.http.routers.a.ruleSyntax=v3\n",
    });
    expect(loadRecipe({ ...options("web"), dir }).services[0].routers[0].hosts).toEqual([
      `*.${names.runId}.ci.test`,
    ]);
  });

  test("Traefik references with a provider suffix are the run's own", () => {
    const dir = tempRecipe({
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\n    deploy:\n      labels:\n        - traefik.enable=true\n        - traefik.http.services.a.loadbalancer.server.port=80\n        - traefik.http.routers.a.rule=Host(`${DOMAIN}`)\n        - traefik.http.routers.a.service=a@docker\n        - traefik.http.routers.a.middlewares=r@swarm\n        - traefik.http.middlewares.r.redirectscheme.scheme=https\n",
    });
    const l = loadRecipe({ ...options("web"), dir }).services[0].labels;
    expect(label(l, `traefik.http.routers.${S}-a.service`)).toBe(`${S}-a`);
    expect(label(l, `traefik.http.routers.${S}-a.middlewares`)).toBe(`${S}-r`);
  });

  test("the plain-HTTP twin of a web-secure router leaves its https-redirect middleware out", () => {
    const dir = tempRecipe({
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\n    deploy:\n      labels:\n        - traefik.enable=true\n        - traefik.http.services.a.loadbalancer.server.port=80\n        - traefik.http.routers.a.rule=Host(`${DOMAIN}`)\n        - traefik.http.routers.a.entrypoints=web-secure\n        - traefik.http.routers.a.middlewares=r@docker,h\n        - traefik.http.middlewares.r.redirectscheme.scheme=https\n        - traefik.http.middlewares.h.headers.customresponseheaders.X-A=1\n",
    });
    const l = loadRecipe({ ...options("web"), dir, plainHttp: true }).services[0].labels;
    expect(label(l, `traefik.http.routers.${S}-a.middlewares`)).toBe(`${S}-r, ${S}-h`);
    expect(label(l, `traefik.http.routers.${S}-a-http.middlewares`)).toBe(`${S}-h`);
  });

  test("coop-cloud.<stack>.timeout is the run's deploy timeout", () => {
    const dir = tempRecipe({
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\n    deploy:\n      labels: ['coop-cloud.${STACK_NAME}.timeout=${TIMEOUT:-120}']\n",
    });
    expect(loadRecipe({ ...options("web"), dir }).deployTimeout).toBe(120);
  });

  test("a service name shortened to fit Swarm's limit is said out loud", () => {
    const key = "a".repeat(60);
    const dir = tempRecipe({ "compose.yml": `version: '3.8'\nservices:\n  ${key}:\n    image: x\n` });
    const m = loadRecipe({ ...options("web"), dir });
    expect(m.services[0].name.length).toBeLessThanOrEqual(63);
    expect(m.warnings.join("\n")).toMatch(/the service name is shortened/);
  });
});

describe("recipe loader: refusals, every one with its file and line", () => {
  test("privileged, host network, added capabilities, the Docker socket and binds outside the recipe", () => {
    expect(problemsOf("broken-policy")).toEqual([
      expect.stringMatching(/^compose\.yml:5: services\.app\.privileged: a privileged service is refused/),
      expect.stringMatching(/^compose\.yml:6: services\.app\.network_mode: network_mode: host is refused/),
      expect.stringMatching(/^compose\.yml:7: services\.app\.cap_add: added capabilities \(SYS_ADMIN\)/),
      expect.stringMatching(/^compose\.yml:9: services\.app\.volumes\.0: mounting the Docker socket/),
      expect.stringMatching(/^compose\.yml:10: services\.app\.volumes\.1: a bind mount of \/etc/),
      expect.stringMatching(/^compose\.yml:11: services\.app\.volumes\.2: a bind mount of \//),
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

  test("broken YAML names the file and the line where the problem starts", () => {
    expect(problemsOf("broken-yaml")[0]).toMatch(
      /^compose\.yml:5: yaml: line 5: mapping values are not allowed/,
    );
    const dir = tempRecipe({
      "compose.yml": 'version: "3.8"\nservices:\n  app:\n    image: "x\n    command: y\n',
    });
    expect(problemsOf("web", { dir })[0]).toMatch(/^compose\.yml:4: /);
  });

  test("every schema problem at once, with an invalid port reported, not dropped", () => {
    const dir = tempRecipe({
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\n    ports: ['99999:80']\n    deploy:\n      replicas: two\n    restart_polciy: {}\n",
    });
    expect(problemsOf("web", { dir })).toEqual([
      expect.stringMatching(/^compose\.yml:5: .*99999/),
      expect.stringMatching(/^compose\.yml:7: .*replicas/),
      expect.stringMatching(/^compose\.yml:8: .*restart_polciy/),
    ]);
  });

  test("references to undeclared networks, secrets, volumes and configs", () => {
    expect(problemsOf("broken-refs")).toEqual([
      expect.stringMatching(
        /services\.app\.networks\.nowhere: refers to a network the recipe does not declare/,
      ),
      expect.stringMatching(/services\.app\.volumes\.0\.source: volume "undeclared" is not declared/),
      expect.stringMatching(/services\.app\.secrets\.0: secret "ghost" is not declared/),
      expect.stringMatching(/services\.other\.configs\.0: config "missing_config" is not declared/),
    ]);
  });

  test("Docker's warnings for keys stack deploy ignores are passed on, never dropped silently", () => {
    const dir = tempRecipe({
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\n    ports: ['8080:80']\n    container_name: fixed\n    build: .\n",
    });
    const w = loadRecipe({ ...options("web"), dir }).warnings.join("\n");
    expect(w).toMatch(/services\.app\.ports: published ports are not exposed in CI/);
    expect(w).toMatch(/container_name/);
    expect(w).toMatch(/build/);
  });

  test("an anonymous volume becomes a labelled volume of the run", () => {
    const dir = tempRecipe({
      "compose.yml": "version: '3.8'\nservices:\n  app:\n    image: x\n    volumes: ['/data']\n",
    });
    const m = loadRecipe({ ...options("web"), dir });
    expect(m.volumes).toHaveLength(1);
    expect(m.volumes[0].name.startsWith(`${S}_app_anon_`)).toBe(true);
  });

  test("routers outside the run's domain, or that could match other hosts", () => {
    expect(problemsOf("broken-host")).toEqual([
      expect.stringMatching(/routers\.catchall\.rule: PathPrefix\(`\/`\): it can match hosts outside/),
      expect.stringMatching(/it routes bank\.example\.com, outside the run's domain/),
    ]);
  });

  test("template errors in dockerd's words, and secrets the service does not mount", () => {
    expect(problemsOf("broken-template")).toEqual([
      expect.stringMatching(
        /configs\.conf: failed to expand templated config .*secret target not_mounted not found/,
      ),
    ]);
  });

  test("variable names as godotenv takes them: letters, numbers, `_` and `.`, judged byte by byte; no `-`", () => {
    const text = ["A.B=1", "A_B2=2", "A-B=3", "fête=4", "café=5", "export X.Y: 6"].join("\n");
    const r = parseEnvFile(text);
    expect(Object.keys(r.values)).toEqual(["A.B", "A_B2", "fête", "X.Y"]);
    expect(r.problems).toEqual([
      { line: 3, message: 'not a KEY=value line (unexpected "-")' },
      // é is 0xC3 0xA9, and 0xA9 (©) is not a letter: godotenv refuses it; ê (0xC3 0xAA, ª) it takes.
      { line: 5, message: 'not a KEY=value line (unexpected "é")' },
    ]);
  });

  test("configs keep the recipe's names; a template mounted by two services is rendered for each, as <name>_<service>", () => {
    const compose = [
      'version: "3.8"',
      "services:",
      "  app:",
      "    image: x",
      "    environment: [WHO=app]",
      "    configs: [{ source: hello, target: /hello }, { source: plain, target: /plain }]",
      "  worker:",
      "    image: x",
      "    environment: [WHO=worker]",
      "    configs: [{ source: hello, target: /hello }]",
      "configs:",
      "  hello:",
      "    name: ${STACK_NAME}_hello_${HELLO_VERSION}",
      "    file: hello.tmpl",
      "    template_driver: golang",
      "  plain:",
      "    name: ${STACK_NAME}_plain_${PLAIN_VERSION}",
      "    file: plain.txt",
      "",
    ].join("\n");
    const dir = tempRecipe({
      "compose.yml": compose,
      ".env.sample": "HELLO_VERSION=v2\nPLAIN_VERSION=v1\n",
      "hello.tmpl": '{{ env "WHO" }}\n',
      "plain.txt": "plain\n",
    });
    const m = load("web", { dir });
    expect(m.configs.map((c) => [c.key, c.name, c.parts.join("")]).sort()).toEqual([
      ["hello.app", `${S}_hello_v2_app`, "app\n"],
      ["hello.worker", `${S}_hello_v2_worker`, "worker\n"],
      ["plain", `${S}_plain_v1`, "plain\n"],
    ]);
  });

  test("configs no service mounts are created as docker stack deploy creates them (a template as written)", () => {
    const compose = [
      'version: "3.8"',
      "services:",
      "  app:",
      "    image: x",
      "    configs: [{ source: used, target: /used }]",
      "configs:",
      "  used: { file: used.txt }",
      "  spare:",
      "    name: ${STACK_NAME}_spare_${SPARE_VERSION}",
      "    file: spare.txt",
      "  tmpl: { file: t.tmpl, template_driver: golang }",
      "",
    ].join("\n");
    const m = load("web", {
      dir: tempRecipe({
        "compose.yml": compose,
        ".env.sample": "SPARE_VERSION=v3\n",
        "used.txt": "u\n",
        "spare.txt": "s\n",
        "t.tmpl": '{{ env "WHO" }}\n',
      }),
    });
    expect(m.configs.map((c) => [c.key, c.name, c.parts.join("")]).sort()).toEqual([
      ["spare", `${S}_spare_v3`, "s\n"],
      ["tmpl", `${S}_tmpl`, '{{ env "WHO" }}\n'],
      ["used", `${S}_used`, "u\n"],
    ]);
    expect(m.services[0].configs.map((c) => c.key)).toEqual(["used"]);
  });

  test("two configs of one name: shared when their content is the same, a problem when it is not", () => {
    const compose = (b: string) =>
      [
        'version: "3.8"',
        "services:",
        "  app:",
        "    image: x",
        "    configs: [{ source: a, target: /a }, { source: b, target: /b }]",
        "configs:",
        "  a:",
        "    name: ${STACK_NAME}_conf_v1",
        "    file: a.txt",
        "  b:",
        "    name: ${STACK_NAME}_conf_v1",
        `    file: ${b}`,
        "",
      ].join("\n");
    const files = { "a.txt": "one\n", "b.txt": "two\n" };
    const shared = load("web", { dir: tempRecipe({ ...files, "compose.yml": compose("a.txt") }) });
    expect(shared.configs.map((c) => c.name)).toEqual([`${S}_conf_v1`]);
    expect(shared.services[0].configs.map((c) => [c.target, c.key])).toEqual([
      ["/a", "a"],
      ["/b", "a"],
    ]);
    expect(problemsOf("web", { dir: tempRecipe({ ...files, "compose.yml": compose("b.txt") }) })).toEqual([
      expect.stringMatching(
        /^compose\.yml:\d+: configs\.b: is named \S+_conf_v1, as is config a, with other content/,
      ),
    ]);
  });

  test("the recipe label names the recipe as abra does: RECIPE, else TYPE, without a version pin; else the folder", () => {
    const compose = "version: '3.8'\nservices:\n  app:\n    image: x\n";
    const label = (env: string) => {
      const m = load("web", {
        dir: tempRecipe({ "compose.yml": compose, ".env.sample": env }),
        recipe: "folder",
      });
      return [
        m.services[0].labels[`coop-cloud.${S}.recipe`],
        m.warnings.filter((w) => /RECIPE/.test(w)).length,
      ];
    };
    expect(label("TYPE=nextcloud\n")).toEqual(["nextcloud", 0]);
    expect(label("TYPE=old\nRECIPE=nextcloud:2.0.1+29.0.3\n")).toEqual(["nextcloud", 0]);
    expect(label("DOMAIN=x.example.com\n")).toEqual(["folder", 1]);
  });

  test("a secret whose version is not set is a problem at its line, as abra refuses the app", () => {
    const compose = [
      'version: "3.8"',
      "services:",
      "  app:",
      "    image: x",
      "    secrets: [db_password, api_key]",
      "secrets:",
      "  db_password:",
      "    external: true",
      "    name: ${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}",
      "  api_key:",
      "    external: true",
      "    name: ${STACK_NAME}_api_key_${SECRET_API_KEY_VERSION}",
      "",
    ].join("\n");
    const dir = tempRecipe({ "compose.yml": compose, ".env.sample": "SECRET_API_KEY_VERSION=v1\n" });
    expect(problemsOf("web", { dir })).toEqual([
      expect.stringMatching(
        /^compose\.yml:9: secrets\.db_password\.name: \S+_db_password_ ends with "_": the secret's version is not set \(set SECRET_DB_PASSWORD_VERSION in \.env\.sample/,
      ),
    ]);
  });

  test(".env.sample problems by line, a missing overlay", () => {
    expect(problemsOf("broken-env")).toEqual([
      expect.stringMatching(/^\.env\.sample:2: not a KEY=value line/),
      '.env.sample:5: QUOTE: unterminated "-quoted value',
      ".env.sample: COMPOSE_FILE: compose.missing.yml does not exist",
    ]);
  });

  test("files outside the recipe are never read, and never quoted", () => {
    const secretFile = path.join(tempRecipe({ canary: "CANARY=host-secret-content\n" }), "canary");
    const dir = tempRecipe({
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\n    env_file: [leak.env]\n    configs: [c]\nconfigs:\n  c: {file: leak.conf}\n",
    });
    symlinkSync(secretFile, path.join(dir, "leak.env"));
    symlinkSync(secretFile, path.join(dir, "leak.conf"));
    const p = problemsOf("web", { dir });
    expect(p.join("\n")).toMatch(/env_file leak\.env: is outside the recipe folder/);
    expect(p.join("\n")).toMatch(/configs\.c\.file: leak\.conf is outside the recipe folder/);
    expect(p.join("\n")).not.toContain("host-secret-content");
    // Named as the recipe names them: never the host's absolute path.
    expect(p.join("\n")).not.toContain(dir);
    expect(p.join("\n")).not.toContain(path.dirname(secretFile));
  });

  test("a secret file out of the recipe is named relative to it, not by the host's path", () => {
    const dir = tempRecipe({
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\n    secrets: [s]\nsecrets:\n  s: {file: ../../etc/passwd}\n",
    });
    const p = problemsOf("web", { dir }).join("\n");
    expect(p).toMatch(/secrets\.s\.file: \.\.\/\.\.\/etc\/passwd is outside the recipe folder/);
    expect(p).not.toContain(dir);
  });

  test("a .env.sample that is not a regular file, or too big, is refused without reading it", () => {
    const dir = tempRecipe({
      "compose.yml": "version: '3.8'\nservices:\n  app:\n    image: x\n",
      ".env.sample": null,
    });
    symlinkSync("/dev/zero", path.join(dir, ".env.sample"));
    expect(problemsOf("web", { dir })).toEqual([
      expect.stringMatching(/\.env\.sample: .*outside the recipe folder/),
    ]);
    const big = tempRecipe({ "compose.yml": "version: '3.8'\nservices:\n  app:\n    image: x\n" });
    writeFileSync(path.join(big, ".env.sample"), `X=${"a".repeat(300 * 1024)}\n`);
    chmodSync(path.join(big, ".env.sample"), 0o644);
    expect(problemsOf("web", { dir: big })).toEqual([
      expect.stringMatching(/\.env\.sample: .*bytes; at most/),
    ]);
  });

  test("a recipe without .env.sample is refused, as abra cannot create an app of it", () => {
    const dir = tempRecipe({
      "compose.yml": "version: '3.8'\nservices:\n  app:\n    image: x\n",
      ".env.sample": null,
    });
    expect(problemsOf("web", { dir })).toEqual([
      ".env.sample: is missing: abra cannot create an app of this recipe (`abra app new` copies .env.sample into the app's env file)",
    ]);
  });

  test("a folder that is not there", () => {
    expect(() => load("does-not-exist")).toThrow(/is not a folder/);
  });
});
