/** What a loaded recipe is: plain data that RecipeApp turns into Docker resources. */
import type { RecipeCi } from "./ciFiles";
import type { TemplatePart } from "./template";

/** A value that may carry run secrets (OIDC client secret, test password) as placeholders. */
export type Text = string;

export interface MountSpec {
  type: "volume" | "bind" | "tmpfs";
  /** Volume mounts: do not copy the image's content into a new volume. */
  noCopy?: boolean;
  /** Volume key (of RecipeModel.volumes) or absolute host path. */
  source?: string;
  target: string;
  readOnly: boolean;
  tmpfsSizeBytes?: number;
}

export interface FileRefSpec {
  /** Key of RecipeModel.secrets / configs. */
  key: string;
  target: string;
  uid?: string;
  gid?: string;
  mode?: number;
}

export interface ServiceSpec {
  key: string;
  name: string;
  image: string;
  command?: string[];
  entrypoint?: string[];
  env: Record<string, Text>;
  /** Service (deploy) labels: the run's labels and the recipe's, Traefik's rewritten for the run. */
  labels: Record<string, string>;
  containerLabels: Record<string, string>;
  /** Docker network names and the aliases the service has on each. */
  networks: { network: string; aliases: string[] }[];
  mounts: MountSpec[];
  secrets: FileRefSpec[];
  configs: FileRefSpec[];
  healthcheck?: {
    test: string[];
    interval?: string;
    timeout?: string;
    startPeriod?: string;
    retries?: number;
  };
  mode: { replicas: number } | "global";
  restartPolicy?: { condition?: string; delay?: string; maxAttempts?: number; window?: string };
  updateConfig?: {
    parallelism?: number;
    delay?: string;
    failureAction?: string;
    monitor?: string;
    maxFailureRatio?: string;
    order?: string;
  };
  resources?: {
    limits?: { memoryBytes?: number; nanoCpus?: number };
    reservations?: { memoryBytes?: number; nanoCpus?: number };
  };
  placement: { constraints: string[]; prefs: string[]; maxReplicas?: number };
  stopGracePeriod?: string;
  stopSignal?: string;
  user?: string;
  workingDir?: string;
  hostname?: string;
  hosts: { host: string; ip: string }[];
  dns: string[];
  init?: boolean;
  readOnly?: boolean;
  capDrop: string[];
  capAdd: string[];
  sysctls: Record<string, string>;
  logging?: { driver: string; options: Record<string, string> };
  /** Routers this service declares through Traefik labels. */
  routers: RouterSpec[];
}

export interface RouterSpec {
  name: string;
  rule: string;
  hosts: string[];
}

export interface NetworkSpec {
  key: string;
  name: string;
  internal: boolean;
  driverOpts: Record<string, string>;
}

export interface VolumeSpec {
  key: string;
  name: string;
  driver?: string;
  driverOpts: Record<string, string>;
}

export type SecretSource =
  | {
      kind: "generate";
      /** Characters (a password), or words (abra's passphrase when no length is hinted). */
      length: number;
      /** The alphabet of a password (abra's charset modifier resolved). */
      alphabet: string;
      /** A passphrase of `length` words, as abra makes when the env file hints no length. */
      passphrase: boolean;
      hinted: boolean;
    }
  | { kind: "file"; content: string }
  | { kind: "run"; variable: string };

export interface SecretSpec {
  key: string;
  name: string;
  source: SecretSource;
}

export interface ConfigSpec {
  key: string;
  name: string;
  /** Rendered content; parts that are secrets are filled in at deploy time. */
  parts: TemplatePart[];
  /** True when the content carries a secret (rendered from `{{ secret }}`): kept secret in state. */
  sensitive: boolean;
}

export interface RecipeModel {
  recipe: string;
  dir: string;
  stackName: string;
  domain: string;
  composeFiles: string[];
  env: Record<string, string>;
  services: ServiceSpec[];
  networks: NetworkSpec[];
  /** Docker name of the shared proxy network. */
  proxyNetwork: string;
  /** Whether any service joins the proxy network (is exposed through Traefik). */
  usesProxy: boolean;
  volumes: VolumeSpec[];
  secrets: SecretSpec[];
  configs: ConfigSpec[];
  /** Seconds the recipe asks abra to wait for convergence (its `coop-cloud.<stack>.timeout` label). */
  deployTimeout?: number;
  /** The recipe's .cc-ci/image and .cc-ci/test, checked. */
  ci: RecipeCi;
  warnings: string[];
}
