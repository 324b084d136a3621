/**
 * A run's `smtp` dependency: a mail catcher of the run's own (Mailpit) at the dependency's host name
 * on the run's deps network — SMTP for the recipe's services, its HTTP API for the run's tests (the
 * sandbox joins that network). Never shared between runs: Mailpit lets whoever reaches its API read
 * every message it holds. What it receives stays inside its own task (its writable layer, counted in the
 * run's disk budget): at most `maxMessages` messages of at most 10 MB each.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { SmtpConfig } from "../lib/config";
import { depValues, MAIL_API_PORT, SMTP_PORT, type SmtpPlan } from "../lib/deps/plan";
import { GeneratedSecret } from "../lib/generatedSecret";
import { depServiceBase, type DepServiceArgs } from "./depGateway";
import { labelList, restartPolicy, taskResources } from "./util";

export interface RunSmtpArgs extends DepServiceArgs {
  dep: SmtpPlan;
  config: SmtpConfig;
}

/** Mailpit's command line: SMTP and API on every address of its task, any AUTH (or none) accepted. */
export function mailpitCommand(maxMessages: number): string[] {
  return [
    "/usr/local/bin/mailpit",
    "--listen",
    `0.0.0.0:${MAIL_API_PORT}`,
    "--smtp",
    `0.0.0.0:${SMTP_PORT}`,
    // Apps that log in get in with any name and password; apps that do not are let in too.
    "--smtp-auth-accept-any",
    "--smtp-auth-allow-insecure",
    "--max",
    String(maxMessages),
    "--max-message-size",
    "10",
    // Nothing leaves the run's network: no update check, no relay.
    "--disable-version-check",
  ];
}

export class RunSmtp extends pulumi.ComponentResource {
  public readonly values: Record<string, pulumi.Input<string>>;
  public readonly service: docker.Service;

  constructor(name: string, args: RunSmtpArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:deps:RunSmtp", name, {}, opts);
    const { dep, config, labels, provider } = args;
    const password = new GeneratedSecret(`${name}-password`, { length: 24 }, { parent: this });
    this.service = new docker.Service(
      `${name}-server`,
      {
        ...depServiceBase(args),
        taskSpec: {
          containerSpec: {
            image: config.image,
            commands: mailpitCommand(config.maxMessages),
            labels: labelList(labels),
            healthcheck: {
              tests: ["CMD", "/usr/local/bin/mailpit", "readyz", "--listen", `127.0.0.1:${MAIL_API_PORT}`],
              interval: "1s",
              timeout: "3s",
              retries: 60,
              startPeriod: "30s",
            },
            // No stop grace period (Docker's default 10 s applies): with one, the provider's delete
            // waits until swarm has *removed* the container (seconds after it stopped), then fails if
            // that took longer; without, the service goes at once and the deletes of the run's network
            // and volume wait, polling, until the container has let go of them.
          },
          networksAdvanceds: [{ id: args.networkId, aliases: [dep.host] }],
          resources: taskResources(config.resources),
          restartPolicy: restartPolicy({ condition: "any", delay: "2s" }),
        },
      },
      { parent: this, provider },
    );
    this.values = { ...depValues(dep), password: pulumi.secret(password.value) };
    this.registerOutputs({ service: this.service.name });
  }
}
