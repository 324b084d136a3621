/**
 * TLS from a certificate file, for real: a second warm layer (a Traefik alone, no Keycloak) serving
 * a wildcard certificate for its domain, signed by a CA made here; a run on it is an https run, and
 * its test reaches the app over https with that CA and no other trust.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { audit } from "../../automation/commands/audit";
import { dockerClient, labelledObjects } from "../../automation/adapters/docker";
import { warmDestroy, warmStatus, warmUp } from "../../automation/commands/warm";
import { listStacks } from "../../automation/adapters/pulumi";
import { LABELS, warmPrefix } from "../../lib/naming";
import { describeE2E } from "./prereq";
import {
  WARM_SETTINGS,
  destroyWarm,
  dropSettings,
  readSettings,
  e2eEnv,
  example,
  explain,
  logTo,
  run,
  spawnRun,
} from "./harness";

const env = e2eEnv();
const docker = dockerClient();
const STACK = "warm-tls-e2e";
const DOMAIN = "tls.e2e.ci.test";
const PORTS = { httpPort: 18082, httpsPort: 18445 };

/** A CA, and a certificate for *.<domain> it signed (openssl, as an operator's private CA would). */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  ssl(
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cc-ci e2e CA"],
    ...["-keyout", f("ca.key"), "-out", f("ca.pem")],
  );
  writeFileSync(f("ext.cnf"), `subjectAltName=DNS:*.${DOMAIN},DNS:${DOMAIN}\n`);
  ssl(
    ...["req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=*.${DOMAIN}`],
    ...["-keyout", f("tls.key"), "-out", f("tls.csr")],
  );
  ssl(
    ...["x509", "-req", "-in", f("tls.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key")],
    ...["-CAcreateserial", "-days", "2", "-extfile", f("ext.cnf"), "-out", f("tls.crt")],
  );
  return { ca: f("ca.pem"), cert: f("tls.crt"), key: f("tls.key") };
}

/** A certificate's SHA-256 fingerprint, from a shell pipeline ending in `openssl x509 -fingerprint` ("" if none). */
function fingerprint(pipeline: string): string {
  try {
    return execFileSync("bash", ["-c", pipeline], { encoding: "utf8" }).trim();
  } catch {
    return "";
  }
}

describeE2E("TLS from a certificate file", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "cc-ci-tls-"));
  const certs = makeCertificates(dir);

  const settings = (c: { cert: string; key: string }) => ({
    domain: DOMAIN,
    proxyNetwork: "proxy-tls",
    slots: 2,
    traefik: {
      ...WARM_SETTINGS.traefik,
      ...PORTS,
      tls: { mode: "file", certFile: c.cert, keyFile: c.key },
    },
    keycloak: { ...WARM_SETTINGS.keycloak, enabled: false, adminPort: 18182 },
    postgres: { ...WARM_SETTINGS.postgres, enabled: false },
    s3: { ...WARM_SETTINGS.s3, enabled: false },
  });

  beforeAll(async () => {
    await warmUp(STACK, env, settings(certs), logTo("warm-tls"));
  });

  afterAll(async () => {
    // The last test destroys the layer; this is for when it failed before it could.
    if ((await listStacks(env)).some((s) => s.name === STACK || s.name.endsWith(`/${STACK}`)))
      await destroyWarm(STACK, env, logTo("warm-tls"));
    dropSettings(STACK);
    rmSync(dir, { recursive: true, force: true });
  });

  test("the warm Traefik serves the certificate, and a run on it is an https run its test reaches with the CA", async () => {
    expect(await warmStatus(STACK, env)).toMatchObject({ exists: true, traefik: true });
    // The recipe: examples/web, with the CA its check trusts (and nothing else).
    const recipe = mkdtempSync(path.join(tmpdir(), "cc-ci-tls-recipe-"));
    try {
      cpSync(example("web"), recipe, { recursive: true });
      cpSync(certs.ca, path.join(recipe, ".cc-ci", "ca.pem"));
      const check = [
        "set -euo pipefail",
        '[[ $CI_APP_URL == "https://web-"*".' +
          DOMAIN +
          ":" +
          PORTS.httpsPort +
          '" ]] || { echo "not an https run: $CI_APP_URL" >&2; exit 1; }',
        'body=$(curl -fsS --max-time 10 --cacert /recipe/.cc-ci/ca.pem --resolve "$CI_CURL_RESOLVE" "$CI_APP_URL/")',
        'grep -q "^Name: cc-ci example$" <<<"$body"',
        // Without the CA, the certificate is not trusted: it really is the file's, not a public one.
        'if curl -fsS --max-time 10 --resolve "$CI_CURL_RESOLVE" "$CI_APP_URL/" >/dev/null 2>&1; then echo "trusted without the CA" >&2; exit 1; fi',
        "echo tls: ok",
      ].join("\n");
      const r = await run({
        recipeDir: recipe,
        recipe: "web",
        warmStack: STACK,
        sso: "off",
        testCommand: ["bash", "-c", check],
      });
      expect({ outcome: r.outcome, report: r.outcome === "passed" ? "" : explain(r) }).toEqual({
        outcome: "passed",
        report: "",
      });
      expect(r.appUrl).toMatch(
        new RegExp(`^https://web-[0-9a-f]{6}\\.${DOMAIN.replace(/\./g, "\\.")}:${PORTS.httpsPort}$`),
      );
      expect(r.residue).toEqual({ docker: [], stack: false });
    } finally {
      rmSync(recipe, { recursive: true, force: true });
    }
    // From the host too: Traefik presents the file's certificate for any name under the domain.
    const subject = execFileSync(
      "bash",
      [
        "-c",
        `openssl s_client -connect 127.0.0.1:${PORTS.httpsPort} -servername nobody.${DOMAIN} </dev/null 2>/dev/null | openssl x509 -noout -subject`,
      ],
      { encoding: "utf8" },
    );
    expect(subject).toContain(`*.${DOMAIN}`);
  });

  test("a new certificate file: warm up puts it in place of the old one, and Traefik serves it", async () => {
    const next = mkdtempSync(path.join(tmpdir(), "cc-ci-tls-next-"));
    try {
      const renewed = makeCertificates(next);
      // The secret is named after its content: the new one is made, Traefik moved to it, then the
      // old one removed (the provider's delete-first order would fail while Traefik still uses it).
      await warmUp(STACK, env, settings(renewed), logTo("warm-tls"));
      const want = fingerprint(`openssl x509 -noout -fingerprint -sha256 -in ${renewed.cert}`);
      let served = "";
      for (let i = 0; i < 60 && served !== want; i++) {
        served = fingerprint(
          `openssl s_client -connect 127.0.0.1:${PORTS.httpsPort} -servername a.${DOMAIN} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`,
        );
        if (served !== want) await new Promise((r) => setTimeout(r, 1000));
      }
      expect(served).toBe(want);
    } finally {
      rmSync(next, { recursive: true, force: true });
    }
  });

  test("the layer is not destroyed under a run that uses it: the destroy names the run and changes nothing", async () => {
    // (commander: the last --warm-stack wins over the harness's own)
    const agent = spawnRun(example("web"), ["--warm-stack", STACK, "--sso", "off", "--", "sleep", "600"]);
    await agent.waitFor(/docker:index:Service \S+ created/);
    const runId = /\[([a-z0-9]+-[0-9a-f]{6})\]/.exec(agent.output())?.[1] as string;
    await expect(warmDestroy(STACK, env, false, logTo("warm-tls"))).rejects.toThrow(
      new RegExp(`warm layer "${STACK}" is still in use by .*run_${runId.replace(/-/g, "_")}_`),
    );
    expect(await warmStatus(STACK, env)).toMatchObject({ exists: true, traefik: true });
    // Killed: its lock holder is gone but it is young, so only an audit told to (grace 0) reaps it;
    // then the layer is free again (afterAll destroys it).
    process.kill(-(agent.child.pid as number), "SIGKILL");
    await agent.closed;
    for (let i = 0; i < 30; i++) {
      const r = await audit(env, { reap: true, graceMs: 0, drift: false, warmStack: STACK });
      if (r.stacks.find((x) => x.runId === runId)?.reaped) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    expect((await audit(env, { drift: false, warmStack: STACK })).stacks.map((x) => x.runId)).not.toContain(
      runId,
    );
  });

  test("warm destroy also removes what the layer's state never recorded, and leaves nothing", async () => {
    // What an interrupted `up` leaves: objects labelled as the layer's (and of no run) that no state
    // records. A volume and a secret, made here directly.
    const ns = `${LABELS.stackNamespace}`;
    const labels = { [ns]: warmPrefix(STACK) };
    const unrecorded = `${warmPrefix(STACK)}_unrecorded_${Date.now().toString(36)}`;
    await docker.createVolume({ Name: unrecorded, Labels: labels });
    await docker.createSecret({
      Name: unrecorded,
      Labels: labels,
      Data: Buffer.from("x").toString("base64"),
    });
    await destroyWarm(STACK, env, logTo("warm-tls"));
    expect(await labelledObjects(docker, `${ns}=${warmPrefix(STACK)}`)).toEqual([]);
    expect((await listStacks(env)).map((s) => s.name).filter((n) => n.endsWith(STACK))).toEqual([]);
    // The stack's settings file stays (as an operator's Pulumi.warm.yaml would), without the salt of
    // the stack that is gone.
    const kept = readSettings(STACK);
    const traefik = JSON.parse(kept.config["cc-ci:traefik"]) as { httpsPort: number; tls: { mode: string } };
    expect({ salt: kept.salt, httpsPort: traefik.httpsPort, tls: traefik.tls.mode }).toEqual({
      salt: false,
      httpsPort: PORTS.httpsPort,
      tls: "file",
    });
  });
});
