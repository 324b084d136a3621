/**
 * A generated secret value, kept in the stack's state as a Pulumi secret and stable across updates
 * (a second `pulumi up` changes nothing). A dynamic resource, because @pulumi/random would need one
 * more provider plugin on hosts that cannot download plugins; this runs inside the Node language host.
 */
import * as pulumi from "@pulumi/pulumi";

/** Letters and digits: safe in URLs, env files, connection strings and shell words alike. */
export const DEFAULT_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

interface Inputs {
  length: number;
  charset: string;
  /** A passphrase of `length` words instead of `length` characters. */
  words?: boolean;
}

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: Inputs) {
    // Required here, not imported, because Pulumi serialises this function into the state.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { randomInt, randomUUID } = require("node:crypto") as typeof import("node:crypto");
    const pick = (alphabet: string, n: number) => {
      let out = "";
      for (let i = 0; i < n; i++) out += alphabet[randomInt(alphabet.length)];
      return out;
    };
    // abra's passphrase: words joined by "-" (its generator draws from the EFF word list; words of
    // lower-case letters have the same alphabet and shape).
    const value = inputs.words
      ? Array.from({ length: inputs.length }, () =>
          pick("abcdefghijklmnopqrstuvwxyz", 4 + randomInt(5)),
        ).join("-")
      : pick(inputs.charset, inputs.length);
    return { id: randomUUID(), outs: { ...inputs, value } };
  },
  async diff(_id: string, olds: Inputs, news: Inputs) {
    const replaces = (["length", "charset", "words"] as const).filter(
      (k) => (olds[k] ?? false) !== (news[k] ?? false),
    );
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
  },
};

export interface GeneratedSecretArgs {
  /** Number of characters. Default: 32. */
  length?: number;
  /** Characters to draw from. Default: letters and digits. */
  charset?: string;
  /** `length` words joined by "-" (abra's passphrase) instead of characters. Default: false. */
  words?: boolean;
}

export class GeneratedSecret extends pulumi.dynamic.Resource {
  /** The generated value (secret). */
  declare public readonly value: pulumi.Output<string>;

  constructor(name: string, args: GeneratedSecretArgs = {}, opts?: pulumi.CustomResourceOptions) {
    const length = args.length ?? 32;
    const charset = args.charset ?? DEFAULT_CHARSET;
    const min = args.words ? 1 : 5; // abra's generator's minimum password length is 5
    if (!Number.isInteger(length) || length < min || length > 4096) {
      throw new Error(
        `GeneratedSecret ${name}: length must be an integer from ${min} to 4096, got ${length}`,
      );
    }
    if (charset.length < 2) throw new Error(`GeneratedSecret ${name}: charset needs at least 2 characters`);
    super(
      provider,
      name,
      { length, charset, ...(args.words ? { words: true } : {}), value: undefined },
      { ...opts, additionalSecretOutputs: ["value"] },
      "cc-ci",
      "GeneratedSecret",
    );
  }
}
