/**
 * Declared dependencies against the real warm PostgreSQL and S3 server, Keycloak, swarm and Pulumi
 * engine: the notes example (a PostgreSQL database of its own, with pgcrypto) and the files example
 * (a login through the run's realm, files in S3, uploaders in PostgreSQL — the shape of a
 * file-sharing suite) pass on warm units and on cold servers; two runs at once never reach each
 * other's database or bucket, nor the warm servers, nor their admin ports; a unit whose run is gone
 * is residue the audit lists and reaps; after all of it the warm servers hold no unit of these runs.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { audit } from "../../automation/commands/audit";
import { homeName, readWarm, withWorkspace } from "../../automation/adapters/pulumi";
import { listUnits, makeUnit, unitName, type PgLogin } from "../../lib/deps/postgres";
import {
  dropS3Unit,
  listS3Units,
  makeS3Unit,
  s3Admin,
  s3Request,
  s3UnitName,
  type S3Admin,
} from "../../lib/deps/s3";
import { ownerId, runNames } from "../../lib/naming";
import { describeE2E } from "./prereq";
import {
  E2E_HOME,
  WARM,
  WARM_SETTINGS,
  e2eEnv,
  ensureWarm,
  example,
  explain,
  logTo,
  run,
  spawnRun,
} from "./harness";

const env = e2eEnv();
const auditOpts = { warmStack: WARM, drift: false, graceMs: 0, log: logTo("audit-deps") };

/** The warm PostgreSQL's provisioning login, from the warm stack's outputs (as a run reads it). */
async function provisioner(): Promise<PgLogin> {
  const w = await withWorkspace(env, homeName("e2e-deps"), (ws) => readWarm(ws, WARM));
  const pg = w.read?.ok ? w.read.deps?.postgres : undefined;
  if (!pg) throw new Error(`warm stack ${WARM} serves no postgres: ${JSON.stringify(w.read?.problems)}`);
  return {
    host: pg.adminHost,
    port: pg.adminPort,
    user: pg.provisioning.user,
    password: pg.provisioning.password,
  };
}

/** The warm S3 server's root account's ways in, from the warm stack's outputs. */
async function s3Root(): Promise<S3Admin> {
  const w = await withWorkspace(env, homeName("e2e-deps"), (ws) => readWarm(ws, WARM));
  const s3 = w.read?.ok ? w.read.deps?.s3 : undefined;
  if (!s3) throw new Error(`warm stack ${WARM} serves no s3`);
  return s3Admin(s3);
}

const s3UnitsOf = async (runIds: string[]) =>
  (await listS3Units(await s3Root())).filter((u) => runIds.some((id) => u.unit.includes(`-${id}-`)));

const unitsOf = async (runIds: string[]) =>
  (await listUnits(await provisioner())).filter((u) => runIds.some((id) => u.note?.run === id));

describeE2E("declared dependencies: postgres", () => {
  beforeAll(async () => {
    await ensureWarm(env);
  });

  test("warm: the notes example gets a database of its own on the warm server, gone after the run", async () => {
    const r = await run({ recipeDir: example("notes") });
    expect(r.outcome).toBe("passed");
    expect(r.deps).toEqual({ db: "warm" });
    expect(r.residue).toEqual({ docker: [], stack: false });
    expect(await unitsOf([r.runId])).toEqual([]);
  });

  test("cold (--deps cold): the same recipe on a PostgreSQL of the run's own, with the same values", async () => {
    const r = await run({ recipeDir: example("notes"), deps: "cold" });
    expect(r.outcome).toBe("passed");
    expect(r.deps).toEqual({ db: "cold" });
    expect(r.residue.docker).toEqual([]);
  });

  test("two runs at once: neither reaches the other's database, the warm server or its admin port; nothing is left", async () => {
    // Run A holds its unit while its tests sleep; run B's tests try A's database through B's own app.
    const a = spawnRun(example("notes"), ["--", "bash", "-c", "sleep 60"]);
    await a.waitFor(/test: bash -c sleep 60/);
    const runA = /\[([a-z0-9]+-[0-9a-f]{6})\]/.exec(a.output())?.[1] as string;
    expect((await unitsOf([runA])).map((u) => u.unit)).toEqual([unitName(runA, "db")]);
    const warmServer = "ccci_warm-e2e_postgres";
    const probe = [
      "set -u",
      'get() { curl -fsS --max-time 20 --resolve "$CI_CURL_RESOLVE" "$CI_APP_URL$1"; }',
      // The app's own role, through its own gateway, at run A's database.
      `out=$(get "/probe?db=${unitName(runA, "db")}")`,
      'case "$out" in refused:*) echo "A refused: $out" ;; *) echo "reached A: $out"; exit 1 ;; esac',
      // The warm server is on no network of the run (only the run's gateway is on its network).
      `if getent hosts ${warmServer} tasks.${warmServer}; then echo "the warm server resolves"; exit 1; fi`,
      // Its admin port is on the host's loopback only.
      "addr=${CI_CURL_RESOLVE##*:}",
      `if timeout 5 bash -c "exec 3<>/dev/tcp/$addr/${WARM_SETTINGS.postgres.adminPort}"; then echo "the admin port answers"; exit 1; fi`,
      // The run's own database works, through the same gateway.
      'get /whoami | grep -q "^$CI_DEP_DB_USER $CI_DEP_DB_DATABASE " || { echo "own database unreachable"; exit 1; }',
      "echo isolated",
    ].join("\n");
    const b = await run({ recipeDir: example("notes"), testCommand: ["bash", "-c", probe] });
    expect({ outcome: b.outcome, test: b.testExitCode }).toEqual({ outcome: "passed", test: 0 });
    expect(await a.closed).toBe(0);
    expect(await unitsOf([runA, b.runId])).toEqual([]);
    const after = await audit(env, auditOpts);
    expect(after.residue.units).toEqual([]);
    expect(after.warm.deps).toEqual({ postgres: true, s3: true });
  });

  test("files, warm and cold: a browser login, an upload to the run's bucket, its uploader in the run's database", async () => {
    const warm = await run({ recipeDir: example("files") });
    expect(warm.outcome).toBe("passed");
    // Mail is never shared: its catcher is the run's own even on the warm layer.
    expect(warm.deps).toEqual({ files: "warm", db: "warm", mail: "cold" });
    expect(warm.residue).toEqual({ docker: [], stack: false });
    expect(await s3UnitsOf([warm.runId])).toEqual([]);
    const cold = await run({ recipeDir: example("files"), deps: "cold" });
    expect(cold.outcome).toBe("passed");
    expect(cold.deps).toEqual({ files: "cold", db: "cold", mail: "cold" });
    expect(cold.residue.docker).toEqual([]);
  });

  test("two file-sharing runs at once: neither's key reaches the other's bucket nor makes one, nor its mail catcher; the S3 admin port is out of reach", async () => {
    const a = spawnRun(example("files"), ["--", "bash", "-c", "sleep 60"]);
    await a.waitFor(/test: bash -c sleep 60/);
    const runA = /\[([a-z0-9]+-[0-9a-f]{6})\]/.exec(a.output())?.[1] as string;
    expect((await s3UnitsOf([runA])).map((u) => u.buckets)).toEqual([[`${runA}-uploads`]]);
    const probe = [
      "set -u",
      'get() { curl -sS --max-time 20 --resolve "$CI_CURL_RESOLVE" "$CI_APP_URL$1"; }',
      'sigv4() { curl -sS -o /dev/null -w \'%{http_code}\' --max-time 20 --aws-sigv4 "aws:amz:$CI_DEP_FILES_REGION:s3" --user "$CI_DEP_FILES_ACCESS_KEY:$CI_DEP_FILES_SECRET_KEY" -H "x-amz-content-sha256: $(printf \'\' | sha256sum | cut -d\' \' -f1)" "$@"; }',
      // The run's own key, straight from the sandbox (on the run's deps network): A's bucket is refused...
      `code=$(sigv4 "$CI_DEP_FILES_ENDPOINT/${runA}-uploads?list-type=2")`,
      '[ "$code" = 403 ] || { echo "the other run\'s bucket answered $code"; exit 1; }',
      // ...no bucket can be made with it...
      'code=$(sigv4 -X PUT "$CI_DEP_FILES_ENDPOINT/$CI_RUN_ID-extra")',
      '[ "$code" = 403 ] || { echo "making a bucket answered $code"; exit 1; }',
      // ...and its own bucket answers.
      'code=$(sigv4 "$CI_DEP_FILES_ENDPOINT/$CI_DEP_FILES_BUCKET?list-type=2")',
      '[ "$code" = 200 ] || { echo "its own bucket answered $code"; exit 1; }',
      // The admin API is on no port the run reaches: not behind the run's gateway, not on the host.
      'code=$(curl -s -o /dev/null -w "%{http_code}" --max-time 10 -X PATCH "$CI_DEP_FILES_ENDPOINT/list-users")',
      '[ "$code" != 200 ] || { echo "the admin API answered through the gateway"; exit 1; }',
      "addr=${CI_CURL_RESOLVE##*:}",
      `if timeout 5 bash -c "exec 3<>/dev/tcp/$addr/${WARM_SETTINGS.s3.adminPort}"; then echo "the S3 admin port answers"; exit 1; fi`,
      // A's mail catcher is on no network of B's; B's own holds nothing (A's mail never reaches it).
      `if getent hosts run_${runA.replace(/-/g, "_")}_dep_mail; then echo "A's mail catcher resolves"; exit 1; fi`,
      'n=$(curl -fsS --max-time 10 "$CI_DEP_MAIL_API_URL/api/v1/messages" | grep -o \'"total":[0-9]*\')',
      '[ "$n" = \'"total":0\' ] || { echo "B\'s mailbox: $n"; exit 1; }',
      "echo isolated",
    ].join("\n");
    const b = await run({ recipeDir: example("files"), testCommand: ["bash", "-c", probe] });
    expect({ outcome: b.outcome, test: b.testExitCode }).toEqual({ outcome: "passed", test: 0 });
    expect(await a.closed).toBe(0);
    expect(await s3UnitsOf([runA, b.runId])).toEqual([]);
    expect(await unitsOf([runA, b.runId])).toEqual([]);
  });

  test("what a run puts in its warm units counts in its disk budget: over it, the run is stopped and torn down", async () => {
    const defaults = path.join(E2E_HOME, "deps-defaults.yaml");
    writeFileSync(defaults, "limits:\n  disk: 64m\n");
    // 100 MB into the run's bucket with the run's own key, from the sandbox; then wait to be stopped.
    const fill = [
      "head -c 100000000 /dev/zero > /tmp/fill",
      'sha=$(sha256sum /tmp/fill | cut -d" " -f1)',
      'curl -fsS --max-time 120 --aws-sigv4 "aws:amz:$CI_DEP_FILES_REGION:s3" --user "$CI_DEP_FILES_ACCESS_KEY:$CI_DEP_FILES_SECRET_KEY" -H "x-amz-content-sha256: $sha" -T /tmp/fill "$CI_DEP_FILES_ENDPOINT/$CI_DEP_FILES_BUCKET/fill"',
      "sleep 300",
    ].join("\n");
    const started = Date.now();
    const r = await run({
      recipeDir: example("files"),
      defaultsFile: defaults,
      testCommand: ["bash", "-c", fill],
    });
    expect(r.outcome).not.toBe("passed");
    expect(r.error).toMatch(
      /over its budget of 64\.0 MiB \(limits\.disk\): s3 unit ccci-\S+-files 9\d\.\d MiB/,
    );
    expect(Date.now() - started).toBeLessThan(240_000);
    expect(r.residue).toEqual({ docker: [], stack: false });
    expect(await s3UnitsOf([r.runId])).toEqual([]);
  }, 600_000);

  test("an S3 unit whose run is gone is residue, reaped with its buckets emptied (whatever its objects are named)", async () => {
    const root = await s3Root();
    const gone = runNames("gons").runId;
    const unit = s3UnitName(gone, "files", ownerId(env.backendUrl));
    const secret = "a-secret-of-forty-characters-0123456789a";
    await makeS3Unit(root, unit, secret, [`${gone}-uploads`]);
    // What a recipe may name its objects: none of it keeps the bucket from going.
    const own = { ...root.api, access: unit, secret };
    for (const key of ["a&b.txt", "dir/x y<z>.txt", "ü%20'q\".txt", "deep/er/than/that/🙂"])
      expect((await s3Request(own, "PUT", `/${gone}-uploads/${key}`, { body: key })).status).toBe(200);
    try {
      const before = await audit(env, auditOpts);
      expect(before.residue.units.map((u) => u.unit)).toEqual([unit]);
      const reaped = await audit(env, { ...auditOpts, reap: true });
      expect(reaped.residue.units).toMatchObject([{ kind: "s3", unit, removed: true }]);
      expect(await s3UnitsOf([gone])).toEqual([]);
    } finally {
      await dropS3Unit(root, unit, [`${gone}-uploads`]).catch(() => undefined);
    }
  }, 120_000);

  test("a unit whose run is gone is residue: listed, removed with --reap; another backend's is left alone", async () => {
    const login = await provisioner();
    const gone = runNames("gone").runId;
    const other = runNames("othr").runId;
    await makeUnit(
      login,
      unitName(gone, "db"),
      "x-password-1",
      { run: gone, owner: ownerId(env.backendUrl) },
      [],
    );
    await makeUnit(login, unitName(other, "db"), "x-password-2", { run: other, owner: "0123456789ab" }, []);
    try {
      const before = await audit(env, auditOpts);
      expect(before.residue.units.map((u) => u.unit)).toEqual([unitName(gone, "db")]);
      expect(before.clean).toBe(false);
      const reaped = await audit(env, { ...auditOpts, reap: true });
      expect(reaped.residue.units).toMatchObject([{ unit: unitName(gone, "db"), removed: true }]);
      expect((await unitsOf([gone, other])).map((u) => u.unit)).toEqual([unitName(other, "db")]);
    } finally {
      const { dropUnit } = await import("../../lib/deps/postgres");
      await dropUnit(login, unitName(other, "db"));
      await dropUnit(login, unitName(gone, "db"));
    }
  }, 120_000);

  test("recipe: the front example with the catalogue's web example beside it, each at its own host; nothing is left", async () => {
    const r = await run({ recipeDir: example("front"), catalogue: path.dirname(example("front")) });
    expect({ outcome: r.outcome, test: r.testExitCode }).toEqual({ outcome: "passed", test: 0 });
    expect(r.deps).toEqual({ web: "cold" });
    // Its services converged with the recipe's, and their logs are the run's.
    expect(r.services?.map((x) => x.service).sort()).toEqual([
      `run_${r.runId.replace("-", "_")}-web_app`,
      `run_${r.runId.replace("-", "_")}_app`,
    ]);
    expect(r.residue).toEqual({ docker: [], stack: false });
  });

  test("a broken deps file fails validation, naming the file and line, before anything exists", async () => {
    const { tempRecipe } = await import("../helpers/recipes");
    const dir = tempRecipe({
      "compose.yml": 'version: "3.8"\nservices:\n  app:\n    image: cc-ci/whoami:1\n',
      ".cc-ci/deps.yml": "db:\n  kind: postgres\n  env:\n    DB_HOST: hostname\n",
    });
    const r = await run({ recipeDir: dir, recipe: "brok" });
    expect(r.outcome).toBe("invalid");
    expect(r.error).toMatch(/\.cc-ci\/deps\.yml:4: db\.env\.DB_HOST: postgres gives no value "hostname"/);
    expect(explain(r)).not.toMatch(/"stack-create"/);
  });
});
