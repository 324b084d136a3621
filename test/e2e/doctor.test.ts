/**
 * `cc-ci doctor` on this host, for real: every prerequisite found with its version and origin, and a
 * missing one named with its fix and a non-zero exit.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { doctor, type Check } from "../../automation/commands/doctor";
import { describeE2E } from "./prereq";
import { E2E_HOME, ROOT, e2eEnv } from "./harness";

const exec = promisify(execFile);

describeE2E("cc-ci doctor", () => {
  test("on a prepared host every prerequisite is there, each with its version or origin", async () => {
    const checks = await doctor(e2eEnv());
    expect(checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.fix}`)).toEqual([]);
    expect(checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        "docker engine",
        "swarm",
        "node",
        "pulumi CLI",
        "nodejs language host",
        "docker provider plugin",
        "keycloak provider plugin",
        "state backend",
      ]),
    );
    for (const c of checks)
      expect({ name: c.name, said: Boolean(c.version ?? c.source) }).toEqual({ name: c.name, said: true });
    expect(checks.find((c) => c.name === "swarm")?.version).toBe("active");
    expect(checks.find((c) => c.name === "state backend")?.version).toBe(e2eEnv().backendUrl);
    // For machines: the swarm's nodes (this manager among them) and the backend's kind and health.
    const nodes = checks.find((c) => c.name === "swarm")?.details?.nodes as { role: string; state: string }[];
    expect(nodes).toEqual(
      expect.arrayContaining([expect.objectContaining({ role: "manager", state: "ready" })]),
    );
    expect(checks.find((c) => c.name === "state backend")?.details).toMatchObject({
      kind: "file",
      health: "ok",
    });
  });

  test("a missing Pulumi CLI is named with its fix, and the command exits 1 with the same checks as JSON", async () => {
    const empty = mkdtempSync(path.join(tmpdir(), "no-pulumi-"));
    try {
      const checks = await doctor({ ...e2eEnv(), pulumiBin: empty });
      expect(checks.find((c) => c.name === "pulumi CLI")).toMatchObject({
        ok: false,
        fix: expect.stringMatching(/scripts\/env\/setup\.sh/),
      });
      const cli = await exec(path.join(ROOT, "bin", "cc-ci"), ["doctor", "--json"], {
        env: { ...process.env, CC_CI_HOME: E2E_HOME, CC_CI_PULUMI_BIN: empty },
      }).then(
        () => ({ code: 0, stdout: "" }),
        (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
      );
      expect(cli.code).toBe(1);
      const json = JSON.parse(cli.stdout) as Check[];
      expect(json.find((c) => c.name === "pulumi CLI")?.ok).toBe(false);
      expect(json.find((c) => c.name === "docker engine")?.ok).toBe(true);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
