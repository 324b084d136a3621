/**
 * The kinds of dependency a recipe may declare, and the values each gives the recipe and its tests.
 * A value is a run variable: `CI_DEP_<NAME>_<VALUE>` (OIDC's are the run's CI_OIDC_* values, which
 * recipes used before deps.yml existed). Secret values reach the recipe's env as placeholders and are
 * filled in when the stack deploys (lib/placeholders.ts), like the OIDC client secret.
 */
export const KINDS = ["oidc", "postgres", "s3", "smtp", "recipe"] as const;
export type DepKind = (typeof KINDS)[number];

export interface FieldInfo {
  secret: boolean;
  /** What the value is, for `cc-ci check` and the README. */
  doc: string;
}

const f = (doc: string, secret = false): FieldInfo => ({ secret, doc });

const FIELDS: Record<DepKind, Record<string, FieldInfo>> = {
  oidc: {
    issuer: f("the realm's issuer URL"),
    discoveryUrl: f("the issuer's .well-known/openid-configuration"),
    keycloakUrl: f("Keycloak's public base URL"),
    realm: f("the run's realm"),
    clientId: f("the confidential client's id"),
    clientSecret: f("the client's secret", true),
    testUser: f("the test user's name"),
    testPassword: f("the test user's password", true),
  },
  postgres: {
    host: f("host name of the database server, from the recipe's services"),
    port: f("its port (5432)"),
    database: f("the run's own database"),
    user: f("the role that owns it (and nothing else)"),
    password: f("the role's password", true),
    url: f("postgres://user:password@host:port/database", true),
  },
  s3: {
    endpoint: f("the S3 endpoint URL, on the run's deps network (what the recipe's services use)"),
    publicEndpoint: f(
      "the same S3 API through the proxy, as browsers and the tests reach it (presigned URLs): warm-s3.<CI domain>, or <name>.s3.<run domain> for a cold server",
    ),
    region: f("the region to sign for"),
    bucket: f("the first bucket (each bucket `b` of `buckets` is <run id>-b)"),
    buckets: f("every bucket, space separated"),
    accessKey: f("an access key allowed on the run's buckets only"),
    secretKey: f("its secret", true),
  },
  smtp: {
    host: f("the SMTP server's host name (a mail catcher: it keeps every message, delivers none)"),
    port: f("its port (1025, plain SMTP; STARTTLS not offered)"),
    domain: f("the run's mail domain"),
    from: f("an address of the run's mail domain"),
    user: f("a user name for SMTP AUTH (optional: the catcher accepts any, or none)"),
    password: f("its password", true),
    apiUrl: f("the catcher's HTTP API (Mailpit's /api/v1/…), where the tests read the mail"),
  },
  recipe: {
    host: f("the other recipe's DOMAIN: <name>.<run domain>, behind the run's proxy"),
    url: f("its public URL"),
  },
};

export function kindFields(kind: DepKind): Record<string, FieldInfo> {
  return FIELDS[kind];
}

const OIDC_VARS: Record<string, string> = {
  issuer: "CI_OIDC_ISSUER",
  discoveryUrl: "CI_OIDC_DISCOVERY_URL",
  keycloakUrl: "CI_KEYCLOAK_URL",
  realm: "CI_OIDC_REALM",
  clientId: "CI_OIDC_CLIENT_ID",
  clientSecret: "CI_OIDC_CLIENT_SECRET",
  testUser: "CI_TEST_USER",
  testPassword: "CI_TEST_PASSWORD",
};

/** `url` → `URL`, `accessKey` → `ACCESS_KEY`. */
function upperSnake(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

/** The run variable that carries a dependency's value. */
export function depVar(dep: { name: string; kind: DepKind }, field: string): string {
  if (dep.kind === "oidc") return OIDC_VARS[field];
  return `CI_DEP_${upperSnake(dep.name)}_${upperSnake(field)}`;
}
