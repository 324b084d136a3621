/**
 * The warm layer's admin gateways (plain containers on 127.0.0.1) across a Docker restart, for real:
 * Docker does not start them itself (it would start them before the swarm serves their networks,
 * fail, and leave a stale attachment that blocks the network's removal), a run names a stopped one,
 * `warm up` starts it again, and a network held by a stale attachment is named as such.
 */
import { checkWarm } from "../../automation/commands/run/prepare";
import { warmUp } from "../../automation/commands/warm";
import { dockerClient, staleAttachment, stoppedGateways } from "../../automation/adapters/docker";
import { homeName, withWorkspace } from "../../automation/adapters/pulumi";
import { LABELS, warmPrefix } from "../../lib/naming";
import { describeE2E } from "./prereq";
import { WARM, WARM_SETTINGS, e2eEnv, ensureWarm, logTo } from "./harness";

const docker = dockerClient();
const prefix = warmPrefix(WARM);

async function gateways(): Promise<{ name: string; restart: string }[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.gateway}=true`, `${LABELS.stackNamespace}=${prefix}`] },
  });
  return Promise.all(
    list.map(async (c) => {
      const info = await docker.getContainer(c.Id).inspect();
      return { name: info.Name.replace(/^\//, ""), restart: info.HostConfig.RestartPolicy?.Name ?? "" };
    }),
  );
}

function check() {
  return withWorkspace(e2eEnv(), homeName("gateways"), (ws) => checkWarm(ws, WARM, "auto", "auto"));
}

describeE2E("warm layer's admin gateways", () => {
  test("are not restarted by Docker; a stopped one is named to runs and `warm up` starts it", async () => {
    await ensureWarm();
    const gws = await gateways();
    expect(gws.map((g) => g.name).sort()).toEqual(
      [`${prefix}_keycloak_gw`, `${prefix}_postgres_gw`, `${prefix}_s3_admin_gw`, `${prefix}_s3_gw`].sort(),
    );
    expect(gws.filter((g) => g.restart !== "no")).toEqual([]);
    expect((await check()).view.deps?.problems).toEqual({});

    // What a Docker restart leaves: the gateway stopped.
    const pg = `${prefix}_postgres_gw`;
    await docker.getContainer(pg).stop({ t: 1 });
    expect((await stoppedGateways(docker, prefix)).map((g) => g.name)).toEqual([pg]);
    const stopped = await check();
    expect(stopped.notes.join("\n")).toContain(`the warm layer's gateways ${pg} are not running`);
    expect(stopped.view.deps?.problems?.postgres).toMatch(/does not answer its provisioning role/);

    const said: string[] = [];
    const log = logTo("warm");
    await warmUp(WARM, e2eEnv(), WARM_SETTINGS, (l) => {
      said.push(l);
      log(l);
    });
    expect(said.join("")).toContain(`started the layer's stopped gateways: ${pg}`);
    expect(await stoppedGateways(docker, prefix)).toEqual([]);
    const again = await check();
    expect(again.view.deps?.problems).toEqual({});
    expect(again.notes.join("\n")).not.toContain("not running");
  });

  test("a network held by a task nothing has is named as a stale attachment; a live task is not", async () => {
    const fake = "0123456789abcdefghijklmno";
    expect(await staleAttachment(docker, `network abc is in use by task ${fake}`)).toMatch(
      new RegExp(
        `network abc is held by task ${fake}, which no service or container has: .*restarting dockerd`,
      ),
    );
    const [live] = await docker.listTasks({ filters: { "desired-state": ["running"] } });
    expect(live).toBeDefined();
    expect(await staleAttachment(docker, `network abc is in use by task ${live.ID}`)).toBeUndefined();
    expect(await staleAttachment(docker, "some other failure")).toBeUndefined();
  });
});
