import { orphanedPlugins, type ProcInfo } from "../../automation/commands/audit/processes";

const HOMES = "/var/lib/cc-ci/homes";
const addr = "127.0.0.1:42851";
/** What a run's CLI leaves when it is SIGKILLed mid-`up` (taken from this host's process table). */
const killedRun = (runId: string, ppid = 1, a = addr): ProcInfo[] => [
  { pid: 4392, ppid, args: ["/var/cache/cc-ci/pulumi/v3.276.0/bin/pulumi-language-nodejs", a] },
  {
    pid: 4665,
    ppid,
    args: [`${HOMES}/run-${runId}/plugins/resource-docker-v5.2.0/pulumi-resource-docker`, a],
  },
  {
    pid: 4680,
    ppid,
    args: [`${HOMES}/run-${runId}/plugins/resource-keycloak-v6.13.0/pulumi-resource-keycloak`, a],
  },
  {
    pid: 4695,
    ppid,
    args: ["/bin/sh", "/var/cache/cc-ci/pulumi/v3.276.0/bin/pulumi-resource-pulumi-nodejs", a],
  },
  {
    pid: 4703,
    ppid: 4695,
    args: ["node", "/work/main/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js", a],
  },
];
const others: ProcInfo[] = [
  { pid: 1, ppid: 0, args: ["/sbin/init"] },
  { pid: 900, ppid: 1, args: ["/usr/sbin/dockerd", "-H", "fd://"] },
  // Another CLI's language host, on another address, still held by its CLI.
  {
    pid: 5000,
    ppid: 4999,
    args: ["/var/cache/cc-ci/pulumi/v3.276.0/bin/pulumi-language-nodejs", "127.0.0.1:40000"],
  },
];

describe("orphaned plugin processes of killed runs", () => {
  test("a killed run's providers, language host and dynamic-provider host, found by its home and their engine address", () => {
    const found = orphanedPlugins([...others, ...killedRun("mult-b18ad4")], HOMES, new Set());
    expect(found.map((p) => p.pid).sort()).toEqual([4392, 4665, 4680, 4695, 4703]);
    expect(new Set(found.map((p) => p.runId))).toEqual(new Set(["mult-b18ad4"]));
  });

  test("a live run's plugins are not touched, nor those a living CLI still holds", () => {
    expect(orphanedPlugins(killedRun("mult-b18ad4"), HOMES, new Set(["mult-b18ad4"]))).toEqual([]);
    expect(orphanedPlugins(killedRun("mult-b18ad4", 4391), HOMES, new Set())).toEqual([]);
  });

  test("another CC_CI_HOME's runs and unrelated processes are not matched", () => {
    expect(orphanedPlugins([...others, ...killedRun("mult-b18ad4")], "/srv/other/homes", new Set())).toEqual(
      [],
    );
    expect(orphanedPlugins(others, HOMES, new Set())).toEqual([]);
  });

  test("two killed runs: each process is attributed to its own run", () => {
    const second = killedRun("sso-c0ffee", 1, "127.0.0.1:45000").map((p) => ({
      ...p,
      pid: p.pid + 10000,
      ppid: p.ppid === 1 ? 1 : p.ppid + 10000,
    }));
    const found = orphanedPlugins([...killedRun("mult-b18ad4"), ...second], HOMES, new Set());
    expect(
      found
        .filter((p) => p.runId === "sso-c0ffee")
        .map((p) => p.pid)
        .sort(),
    ).toEqual([14392, 14665, 14680, 14695, 14703]);
    expect(found).toHaveLength(10);
  });
});
