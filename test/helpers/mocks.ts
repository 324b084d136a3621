/**
 * Pulumi runtime mocks for unit tests of what the program declares. The mock records every resource
 * with its resolved inputs; `call` throws on any function the program is not expected to invoke.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig } from "../../lib/config";
import { program } from "../../program";

export interface Declared {
  type: string;
  name: string;
  /** Resolved inputs; `any` so tests can reach into the provider's nested shapes. */
  inputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Paths of inputs that arrived as Pulumi secrets (e.g. "data", "taskSpec"). */
  secretPaths: string[];
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** The mock sees secrets wrapped in Pulumi's secret signature; unwrap them, noting where they were. */
function unwrap(v: unknown, path: string, secrets: string[]): unknown {
  if (Array.isArray(v)) return v.map((x, i) => unwrap(x, `${path}[${i}]`, secrets));
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SECRET_SIG] === SECRET_VALUE) {
      secrets.push(path);
      return unwrap(o.value, path, secrets);
    }
    return Object.fromEntries(
      Object.entries(o).map(([k, x]) => [k, unwrap(x, path ? `${path}.${k}` : k, secrets)]),
    );
  }
  return v;
}

export interface MockWorld {
  declared: Declared[];
  /** Values the mock generated for GeneratedSecrets, by resource name. */
  generated?: Record<string, string>;
}

/**
 * What a GeneratedSecret's provider would make: `length` characters of `charset`, distinct per
 * resource name (a hash stream), so a test can tell one secret from another and check the hints.
 */
export function mockSecret(name: string, length: number, charset: string): string {
  let out = "";
  for (let i = 0; out.length < length; i++) {
    for (const byte of createHash("sha256").update(`${name}:${i}`).digest()) {
      if (out.length < length) out += charset[byte % charset.length];
    }
  }
  return out;
}

export function installMocks(world: MockWorld, stack: string): void {
  // setMocks does all its work at once (its async body awaits nothing): nothing to wait for.
  void pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs) {
        const secretPaths: string[] = [];
        const inputs = unwrap(args.inputs, "", secretPaths) as Record<string, unknown>;
        world.declared.push({ type: args.type, name: args.name, inputs, secretPaths });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "pulumi-nodejs:dynamic/cc-ci:AdoptedRealm")
          state.realm = (inputs.representation as { realm: string }).realm;
        if (args.type === "pulumi-nodejs:dynamic/cc-ci:GeneratedSecret") {
          const value = mockSecret(args.name, Number(inputs.length), String(inputs.charset));
          state.value = value;
          world.generated = { ...world.generated, [args.name]: value };
        }
        if (args.type === "keycloak:openid/client:Client") state.serviceAccountUserId = `sa-${args.name}`;
        return { id: `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs) {
        // The one function the program calls: the id of the warm layer's proxy network.
        if (args.token === "docker:index/getNetwork:getNetwork")
          return { id: `id-of-${args.inputs.name}`, name: args.inputs.name };
        throw new Error(`unexpected provider function call: ${args.token}`);
      },
    },
    "cc-ci",
    stack,
    false,
  );
}

export function setConfig(values: Record<string, unknown>): void {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(values))
    flat[`cc-ci:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
  pulumi.runtime.setAllConfig(flat, []);
}

export function promiseOf<T>(o: pulumi.Input<T> | undefined): Promise<T> {
  return new Promise((resolve) => pulumi.output(o as pulumi.Input<T>).apply((v) => resolve(v as T)));
}

/** Waits until every registration the program queued has reached the mock (the RPC queue drained). */
export async function settle(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
  await settings.waitForRPCs();
}

export function ofType(world: MockWorld, type: string): Declared[] {
  return world.declared.filter((d) => d.type === type);
}

/**
 * Label lists ({label, value}[]) as a map. Traefik's keys are lower-cased: Traefik reads them
 * case-insensitively and its encoder writes Go field names (`traefik.HTTP.Routers.x.Rule`).
 */
export function labelMap(list: unknown): Record<string, string> {
  return Object.fromEntries(
    ((list as { label: string; value: string }[]) ?? []).map((l) => [
      /^traefik\./i.test(l.label) ? l.label.toLowerCase() : l.label,
      l.value,
    ]),
  );
}

/** Outputs as tests reach into them. */
type AnyOutputs = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Installs the mocks, sets the stack's config and runs the program as index.ts does. */
export async function declareStack(
  world: MockWorld,
  stack: string,
  values: Record<string, unknown>,
): Promise<AnyOutputs> {
  installMocks(world, stack);
  setConfig(values);
  const outputs = program(parseStackConfig(pulumi.runtime.allConfig(), stack), stack);
  await settle();
  return outputs;
}
