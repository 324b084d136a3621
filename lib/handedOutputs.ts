/**
 * A run stack's outputs handed from the program to cc-ci at the end of its `up`, instead of read
 * back from the state with one more CLI start (`pulumi stack output --show-secrets`: the CLI, the
 * backend's checkpoint and a derivation of the passphrase's key, in every run). cc-ci names the file
 * in the CLI's environment (OUTPUTS_FILE_ENV), in the run's private Pulumi home (the operator's
 * own, mode 0700, where the run's secrets already pass); the program writes it, mode 0600, once every
 * output is known, and cc-ci reads and removes it after the `up` succeeded. A file that is not there
 * (the program did not get that far, or an older one ran) falls back to `stack output`.
 */
import * as pulumi from "@pulumi/pulumi";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";

export const OUTPUTS_FILE_ENV = "CC_CI_OUTPUTS_FILE";

/** In the program: writes `outputs`, every nested output resolved, where cc-ci asked (not in previews). */
export function handOutputs(outputs: Record<string, unknown>, env: Record<string, string | undefined>): void {
  const file = env[OUTPUTS_FILE_ENV];
  if (!file || pulumi.runtime.isDryRun()) return;
  void pulumi.output(outputs).apply((values) => {
    writeFileSync(`${file}.part`, JSON.stringify(values), { mode: 0o600 });
    renameSync(`${file}.part`, file);
  });
}

/** In cc-ci: the output values the program handed over (then gone from disk), or undefined when it did not. */
export function takeHandedOutputs(file: string): Record<string, unknown> | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } finally {
    rmSync(file, { force: true });
  }
}
