/**
 * Hostile recipes, one per attack a pull request could try on the shared host, each refused by the
 * loader with a named problem before anything is deployed. Traefik's own decoder reads the labels,
 * so spelling tricks (key case, v2/v3 syntax, escapes) meet the same checks as plain labels.
 */
import { RunLimits } from "../../lib/config";
import { load, problemsOf, names, tempRecipe } from "../helpers/recipes";

const D = `${names.runId}.ci.test`;

/** A one-service recipe with these deploy labels (list form, as recipes write them). */
function withLabels(...labels: string[]): string {
  const list = labels.map((l) => `        - ${JSON.stringify(l)}`).join("\n");
  return tempRecipe({
    "compose.yml": `version: "3.8"\nservices:\n  app:\n    image: x\n    networks: [proxy]\n    deploy:\n      labels:\n        - "traefik.enable=true"\n        - "traefik.http.services.app.loadbalancer.server.port=80"\n${list}\nnetworks:\n  proxy:\n    external: true\n`,
  });
}

/** A one-service recipe with this YAML under the service. */
function withService(yaml: string): string {
  return tempRecipe({ "compose.yml": `version: "3.8"\nservices:\n  app:\n    image: x\n${yaml}` });
}

const refusedLabels: [string, string[], RegExp][] = [
  [
    "a catch-all TCP router",
    [
      "traefik.tcp.routers.t.rule=HostSNI(`*`)",
      "traefik.tcp.routers.t.entrypoints=web",
      "traefik.tcp.services.t.loadbalancer.server.port=80",
    ],
    /tcp\.routers\.t/,
  ],
  [
    "a TCP router confined but without TLS",
    [`traefik.tcp.routers.t.rule=HostSNI(\`${D}\`)`, "traefik.tcp.services.t.loadbalancer.server.port=80"],
    /without TLS/,
  ],
  [
    "an || escape with a high priority",
    [
      `traefik.http.routers.a.rule=Host(\`${D}\`) || PathPrefix(\`/\`)`,
      "traefik.http.routers.a.priority=2147483000",
    ],
    /can match hosts outside/,
  ],
  ["a negated host", [`traefik.http.routers.a.rule=!Host(\`${D}\`)`], /can match hosts outside/],
  [
    "a rule in other case, outside the domain",
    ["traefik.HTTP.Routers.a.Rule=Host(`warm-keycloak.ci.test`)"],
    /routes warm-keycloak\.ci\.test, outside/,
  ],
  [
    "a matcher in other case without host",
    ["traefik.http.routers.a.rule=PATHPREFIX(`/`)"],
    /can match hosts outside/,
  ],
  [
    "a label root in other case",
    ["Traefik.http.routers.a.rule=Host(`x`)"],
    /Traefik refuses it|unknown to Traefik/,
  ],
  [
    "an unanchored HostRegexp",
    ["traefik.http.routers.a.rule=HostRegexp(`[a-z]+\\.ci\\.test`)", "traefik.http.routers.a.ruleSyntax=v3"],
    /can match hosts outside|outside/,
  ],
  [
    "a HostRegexp matching the empty string",
    [
      `traefik.http.routers.a.rule=HostRegexp(\`^(${D.replace(/\./g, "\\.")})?$$\`)`,
      "traefik.http.routers.a.ruleSyntax=v3",
    ],
    /empty string|can match hosts outside/,
  ],
  [
    "a v2 HostRegexp open at both ends",
    [`traefik.http.routers.a.rule=HostRegexp(\`{x:.*}.${D}{y:.*}\`)`, "traefik.http.routers.a.ruleSyntax=v2"],
    /can match hosts outside/,
  ],
  [
    "forwardAuth to anywhere",
    [
      `traefik.http.routers.a.rule=Host(\`${D}\`)`,
      "traefik.http.routers.a.middlewares=fa",
      "traefik.http.middlewares.fa.forwardauth.address=http://169.254.169.254/",
    ],
    /middleware type forwardAuth is not allowed/,
  ],
  [
    "a service by URL",
    [
      `traefik.http.routers.a.rule=Host(\`${D}\`)`,
      "traefik.http.routers.a.service=u",
      "traefik.http.services.u.loadbalancer.server.url=http://ccci_warm_keycloak:8080",
    ],
    /servers by URL/,
  ],
  [
    "TLS domains",
    [
      `traefik.http.routers.a.rule=Host(\`${D}\`)`,
      "traefik.http.routers.a.tls.domains[0].main=bank.example.com",
    ],
    /TLS domains are the CI's/,
  ],
  [
    "another run's service",
    [`traefik.http.routers.a.rule=Host(\`${D}\`)`, "traefik.http.routers.a.service=run_web_bbbbbb"],
    /is not one of this recipe's/,
  ],
  [
    "the warm layer's Keycloak service",
    [`traefik.http.routers.a.rule=Host(\`${D}\`)`, "traefik.http.routers.a.service=ccci_warm-keycloak@swarm"],
    /is not one of this recipe's/,
  ],
  [
    "Traefik's own API",
    [`traefik.http.routers.a.rule=Host(\`${D}\`)`, "traefik.http.routers.a.service=api@internal"],
    /internal provider/,
  ],
  [
    "a middleware of the file provider",
    [`traefik.http.routers.a.rule=Host(\`${D}\`)`, "traefik.http.routers.a.middlewares=auth@file"],
    /file provider/,
  ],
  [
    "the default TLS store",
    ["traefik.tls.stores.default.defaultgeneratedcert.resolver=x"],
    /TLS stores|unknown to Traefik/,
  ],
  [
    "an unknown traefik key",
    [`traefik.http.routers.a.rule=Host(\`${D}\`)`, "traefik.http.routers.a.frobnicate=1"],
    /Traefik refuses it|unknown to Traefik/,
  ],
  [
    "a UDP router",
    ["traefik.udp.routers.u.entrypoints=web", "traefik.udp.services.u.loadbalancer.server.port=53"],
    /UDP routers/,
  ],
  [
    "a plugin middleware",
    [
      `traefik.http.routers.a.rule=Host(\`${D}\`)`,
      "traefik.http.routers.a.middlewares=p",
      "traefik.http.middlewares.p.plugin.evil.x=1",
    ],
    /plugin|not allowed/,
  ],
  [
    "basicAuth users from a file on Traefik's disk",
    [
      `traefik.http.routers.a.rule=Host(\`${D}\`)`,
      "traefik.http.routers.a.middlewares=b",
      "traefik.http.middlewares.b.basicauth.usersfile=/etc/shadow",
    ],
    /usersFile/,
  ],
  [
    "an entrypoint the CI does not have",
    [`traefik.http.routers.a.rule=Host(\`${D}\`)`, "traefik.http.routers.a.entrypoints=traefik"],
    /entrypoint "traefik" does not exist/,
  ],
];

describe("hostile Traefik labels are refused, naming what", () => {
  test.each(refusedLabels)("%s", (_, labels, why) => {
    expect(problemsOf("web", { dir: withLabels(...labels) }).join("\n")).toMatch(why);
  });
});

describe("a problem about a label names the label as the recipe wrote it", () => {
  test.each([
    [
      "a rule outside the run, in mixed case",
      ["traefik.HTTP.Routers.Front.Rule=Host(`bank.example.com`)"],
      "services.app.deploy.labels.traefik.HTTP.Routers.Front.Rule:",
    ],
    [
      "a TCP router without TLS (the router, by its labels' prefix)",
      [
        `traefik.tcp.Routers.DB.rule=HostSNI(\`${D}\`)`,
        "traefik.tcp.services.db.loadbalancer.server.port=5432",
      ],
      "services.app.deploy.labels.traefik.tcp.Routers.DB:",
    ],
    [
      "an entrypoint written entryPoints",
      [`traefik.http.routers.a.rule=Host(\`${D}\`)`, "traefik.http.routers.a.entryPoints=traefik"],
      "services.app.deploy.labels.traefik.http.routers.a.entryPoints:",
    ],
  ])("%s", (_, labels, where) => {
    expect(problemsOf("web", { dir: withLabels(...labels) }).join("\n")).toContain(where);
  });
});

describe("Traefik cannot be made to hold or multiply what a run sends", () => {
  const M = "traefik.http.middlewares.m";
  test.each([
    [
      "a 2 GB in-memory request body",
      `${M}.buffering.memRequestBodyBytes=2000000000`,
      /buffering\.memRequestBodyBytes: 2000000000 bytes are over the shared Traefik's limit of 262144/,
    ],
    [
      "a 2 GB request body on Traefik's disk",
      `${M}.buffering.maxRequestBodyBytes=2000000000`,
      /maxRequestBodyBytes: 2000000000 bytes are over .* 8388608/,
    ],
    [
      "a 2 GB in-memory response",
      `${M}.buffering.memResponseBodyBytes=2000000000`,
      /memResponseBodyBytes: .* over/,
    ],
    [
      "compression that holds 1 GB of response",
      `${M}.compress.minResponseBodyBytes=1000000000`,
      /minResponseBodyBytes: 1000000000 bytes are over .* 262144/,
    ],
    [
      "a thousand retries",
      `${M}.retry.attempts=1000`,
      /retry\.attempts: 1000 attempts are over the shared Traefik's limit of 5/,
    ],
    [
      "a health check every millisecond",
      "traefik.http.services.app.loadbalancer.healthcheck.interval=1ms",
      /healthcheck\.interval: 1ms is under the shared Traefik's floor of 1s/,
    ],
  ])("%s", (_, label, why) => {
    expect(
      problemsOf("web", { dir: withLabels(label, "traefik.http.routers.app.middlewares=m") }).join("\n"),
    ).toMatch(why);
  });

  test("buffering without limits gets the shared Traefik's (Traefik's own 0 is no limit)", () => {
    const m = load("web", {
      dir: withLabels(
        `${M}.buffering.retryExpression=IsNetworkError()`,
        "traefik.http.routers.app.middlewares=m",
      ),
    });
    const labels = Object.entries(m.services[0].labels)
      .filter(([k]) => /buffering/i.test(k))
      .map(([k, v]) => `${k.replace(/^.*buffering\./i, "").toLowerCase()}=${v}`)
      .sort();
    expect(labels).toEqual([
      "maxrequestbodybytes=8388608",
      "maxresponsebodybytes=8388608",
      "memrequestbodybytes=262144",
      "memresponsebodybytes=262144",
      "retryexpression=IsNetworkError()",
    ]);
  });

  test("mirroring cannot be declared with labels (Traefik reads it from files only)", () => {
    const dir = withLabels(
      "traefik.http.services.mir.mirroring.service=app",
      "traefik.http.services.mir.mirroring.mirrors[0].name=app",
      "traefik.http.services.mir.mirroring.mirrors[0].percent=100",
    );
    let labels: string[] = [];
    try {
      labels = Object.keys(load("web", { dir }).services[0].labels);
    } catch {
      // refused is as good as ignored
    }
    expect(labels.filter((k) => /mirror/i.test(k))).toEqual([]);
  });
});

/** Values over the run's maxima: lowered to them by default (as abra deploys them), refused on demand. */
const overMaxima: [string, string, RegExp, (m: ReturnType<typeof load>) => unknown, unknown][] = [
  [
    "500 replicas",
    "    deploy:\n      replicas: 500\n",
    /500 replicas are over the run's limit of 3/,
    (m) => m.services[0].mode,
    { replicas: 3 },
  ],
  [
    "a 64-CPU reservation",
    "    deploy:\n      resources:\n        reservations:\n          cpus: '64'\n",
    /64 CPUs are over/,
    (m) => m.services[0].resources?.reservations?.nanoCpus,
    2e9,
  ],
  [
    "a 64 GiB memory limit",
    "    deploy:\n      resources:\n        limits:\n          memory: 64g\n",
    /bytes are over the run's limit/,
    (m) => m.services[0].resources?.limits?.memoryBytes,
    2 * 1024 ** 3,
  ],
  [
    "a 240 h grace period",
    "    stop_grace_period: 240h\n",
    /240h0m0s is over the run's limit of 60s/,
    (m) => m.services[0].stopGracePeriod,
    "60s",
  ],
  [
    "a huge tmpfs",
    "    volumes:\n      - type: tmpfs\n        target: /t\n        tmpfs:\n          size: 68719476736\n",
    /over the run's limit/,
    (m) => m.services[0].mounts.find((x) => x.target === "/t")?.tmpfsSizeBytes,
    256 * 1024 ** 2,
  ],
];

describe("values over the run's maxima", () => {
  test.each(overMaxima)(
    "%s: lowered to the maximum with a warning at its line",
    (_, yaml, why, get, lowered) => {
      const m = load("web", { dir: withService(yaml) });
      expect(get(m)).toEqual(lowered);
      expect(m.warnings.join("\n")).toMatch(why);
      expect(m.warnings.find((w) => why.test(w))).toMatch(
        /^compose\.yml:\d+: services\.app\..*; lowered to it \(limits\.overMaximum: clamp\)$/,
      );
    },
  );

  test.each(overMaxima)("%s: refused under limits.overMaximum refuse", (_, yaml, why) => {
    const limits = RunLimits.parse({ overMaximum: "refuse" });
    expect(problemsOf("web", { dir: withService(yaml), limits }).join("\n")).toMatch(why);
  });
});

const refusedServices: [string, string, RegExp][] = [
  [
    "logs sent to a syslog server",
    "    logging:\n      driver: syslog\n      options:\n        syslog-address: tcp://192.0.2.9:514\n",
    /logging driver "syslog" is not allowed/,
  ],
  ["sysctls", "    sysctls:\n      net.ipv4.ip_forward: 1\n", /sysctls change the host's kernel/],
  [
    "a healthcheck every millisecond",
    "    healthcheck:\n      test: [CMD, 'true']\n      interval: 1ms\n",
    /healthcheck\.interval: 1ms is under the run's floor of 1s/,
  ],
  [
    "placement on a manager",
    "    deploy:\n      placement:\n        constraints: [node.role==manager]\n",
    /placement constraints are the CI's/,
  ],
  ["the Docker socket's folder", "    volumes:\n      - /var/run:/host-run\n", /Docker socket/],
  ["a host device", "    devices: ['/dev/sda:/dev/sda']\n", /devices/],
  ["the host's PID namespace", "    pid: host\n", /pid: host is refused/],
];

describe("hostile services are refused, naming the limit or the switch", () => {
  test.each(refusedServices)("%s", (_, yaml, why) => {
    expect(problemsOf("web", { dir: withService(yaml) }).join("\n")).toMatch(why);
  });

  test("a volume bound to a host path through driver options", () => {
    const dir = tempRecipe({
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\n    volumes: [v:/v]\nvolumes:\n  v:\n    driver_opts:\n      type: none\n      o: bind\n      device: /etc\n",
    });
    expect(problemsOf("web", { dir }).join("\n")).toMatch(
      /a volume bound to a host device or path is refused/,
    );
  });

  test("an external network other than the proxy (another run's, or the host's)", () => {
    const dir = tempRecipe({
      "compose.yml":
        "version: '3.8'\nservices:\n  app:\n    image: x\n    networks: [other, h]\nnetworks:\n  other:\n    external: true\n    name: run_web_bbbbbb_internal\n  h:\n    external: true\n    name: host\n",
    });
    const p = problemsOf("web", { dir }).join("\n");
    expect(p).toMatch(/external network "run_web_bbbbbb_internal" is not offered by the CI/);
    expect(p).toMatch(/the host network is refused/);
  });
});

describe("expansion bombs are refused at validation, naming the bound (never a crash)", () => {
  const compose = (service: string, extra = "") =>
    `version: "3.8"\nservices:\n  app:\n    image: x\n${service}${extra}`;

  test("an .env.sample whose values double at every line", () => {
    const lines = ["A0=xxxxxxxxxxxxxxxx"];
    for (let i = 1; i <= 24; i++) lines.push(`A${i}=$A${i - 1}$A${i - 1}`);
    const dir = tempRecipe({ ".env.sample": lines.join("\n") + "\n", "compose.yml": compose("") });
    expect(problemsOf("web", { dir }).join("\n")).toMatch(
      /\.env\.sample:14: A13: expands to more than 65536 bytes/,
    );
  });

  test("one env line that names a long value many times", () => {
    const dir = tempRecipe({
      ".env.sample": `A=${"x".repeat(60000)}\nB=${"$A".repeat(100000)}\n`,
      "compose.yml": compose(""),
    });
    expect(problemsOf("web", { dir }).join("\n")).toMatch(
      /\.env\.sample:2: B: expands to more than 65536 bytes/,
    );
  });

  test("a compose value that names a long variable many times", () => {
    const dir = tempRecipe({
      ".env.sample": `A=${"x".repeat(60000)}\n`,
      "compose.yml": compose(`    environment:\n      X: "${"${A}".repeat(1000)}"\n`),
    });
    expect(problemsOf("web", { dir }).join("\n")).toMatch(
      /compose\.yml:\d+: services\.app\.environment\.X: could interpolate to \d+ bytes, over the limit of 262144/,
    );
  });

  const templated = (template: string, env = "") =>
    tempRecipe({
      ".env.sample": env,
      "compose.yml": compose(
        `    environment:\n      BIG: \${BIG:-}\n    configs:\n      - source: c\n        target: /c\n`,
        `configs:\n  c:\n    file: ./c.tmpl\n    template_driver: golang\n`,
      ),
      "c.tmpl": template,
    });

  test("ten nested defines each calling the previous twice, in a loop", () => {
    let t = '{{define "t0"}}xxxxxxxx{{end}}';
    for (let i = 1; i <= 10; i++)
      t += `{{define "t${i}"}}{{template "t${i - 1}"}}{{template "t${i - 1}"}}{{end}}`;
    t += '{{range 50}}{{template "t10"}}{{end}}';
    expect(problemsOf("web", { dir: templated(t) }).join("\n")).toMatch(/more than 10000 template calls/);
  });

  test("a template that renders past what a swarm config may hold", () => {
    const dir = templated('{{range 20}}{{env "BIG"}}{{end}}', `BIG=${"x".repeat(60000)}\n`);
    expect(problemsOf("web", { dir }).join("\n")).toMatch(/renders to 1200000 bytes, over the 1024000/);
  });

  test("a template that grows past the helper's memory ceiling is stopped by it", () => {
    const dir = templated('{{range 90000}}{{env "BIG"}}{{end}}', `BIG=${"x".repeat(60000)}\n`);
    expect(problemsOf("web", { dir }).join("\n")).toMatch(
      /rendering the config templates needed more than the helper's memory ceiling of 1024 MiB/,
    );
  });
});

describe("limits that mean something", () => {
  const service = (yaml: string) =>
    tempRecipe({ "compose.yml": `version: "3.8"\nservices:\n  app:\n    image: x\n${yaml}` });

  test("a CPU or memory limit of 0 (Docker: no limit) gets the run's default, with a warning", () => {
    const m = load("web", {
      dir: service(
        "    deploy:\n      resources:\n        limits:\n          cpus: '0'\n          memory: '0'\n",
      ),
    });
    expect(m.services[0].resources?.limits).toEqual({ memoryBytes: 512 * 1024 * 1024, nanoCpus: 1e9 });
    expect(m.warnings.join("\n")).toMatch(
      /limits\.cpus: 0 would be no limit at all; the run's default of 1 applies/,
    );
    // Docker's loader drops a memory of 0 (no limit) itself: the default applies as for none.
  });

  test("every service logs to rotated files within the budget, whatever the recipe asks", () => {
    const m = load("web", {
      dir: service(
        "    logging:\n      driver: local\n      options:\n        max-size: 5g\n        max-file: '1000'\n",
      ),
    });
    expect(m.services[0].logging).toEqual({
      driver: "local",
      options: { "max-size": String(10 * 1024 * 1024), "max-file": "3" },
    });
    expect(load("web", { dir: service("") }).services[0].logging).toEqual({
      driver: "json-file",
      options: { "max-size": String(10 * 1024 * 1024), "max-file": "3" },
    });
  });

  test("a driver the operator allows that does not rotate takes no options from the recipe", () => {
    const limits = RunLimits.parse({ loggingDrivers: ["json-file", "journald"] });
    const dir = service("    logging:\n      driver: journald\n      options:\n        tag: x\n");
    expect(problemsOf("web", { dir, limits }).join("\n")).toMatch(
      /logging\.options: options of logging driver "journald" are refused/,
    );
  });

  test("more services than the run allows, and more replicas in all", () => {
    const many = Array.from({ length: 21 }, (_, i) => `  s${i}:\n    image: x\n`).join("");
    expect(
      problemsOf("web", { dir: tempRecipe({ "compose.yml": `version: "3.8"\nservices:\n${many}` }) }).join(
        "\n",
      ),
    ).toMatch(/21 services are over the run's limit of 20 \(limits\.maxServices\)/);
    const wide = Array.from(
      { length: 9 },
      (_, i) => `  s${i}:\n    image: x\n    deploy:\n      replicas: 3\n`,
    ).join("");
    expect(
      problemsOf("web", { dir: tempRecipe({ "compose.yml": `version: "3.8"\nservices:\n${wide}` }) }).join(
        "\n",
      ),
    ).toMatch(/27 replicas in all are over the run's limit of 24/);
  });
});
