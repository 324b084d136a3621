/**
 * Keycloak with its PostgreSQL on the swarm: generated admin and database passwords (Pulumi secrets,
 * handed to the containers as Docker secrets, never as plain environment), health checks, Traefik
 * labels for <hostname>.<domain>, an optional host-mode admin port for the CI host, and the
 * provisioning client runs use: a master-realm client whose service account may only create realms.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as keycloak from "@pulumi/keycloak";
import type { KeycloakConfig } from "../lib/config";
import { GeneratedSecret } from "../lib/generatedSecret";
import { prefixedName, NETWORK_NAME_MAX, SERVICE_NAME_MAX } from "../lib/naming";
import { publicUrl } from "../lib/units";
import { CONVERGE, healthTiming, restartPolicy, labelList, taskResources } from "./util";
import { adminGateway } from "./adminGateway";
import { dockerSecret, KeycloakDatabase } from "./keycloakDatabase";

export interface KeycloakArgs {
  config: KeycloakConfig;
  /** Prefix of every Docker name. */
  prefix: string;
  /** Host name Keycloak is served at through Traefik (its issuer URLs start with it). */
  host: string;
  /** The proxy: network to join, scheme and entrypoints. */
  proxy: {
    /** The proxy network's name (for Traefik's label) and its id (what the provider reads back). */
    network: pulumi.Input<string>;
    networkId: pulumi.Input<string>;
    scheme: "http" | "https";
    httpPort: number;
    httpsPort: number;
    entrypoints: { web: string; webSecure: string };
    certResolver?: string;
  };
  /** Router name prefix; unique on the shared Traefik. */
  routerName: string;
  labels: Record<string, string>;
  provider: docker.Provider;
  /** The keycloak provider's HTTP timeout in seconds (its 5 s default leaves orphan realms). Default: 120. */
  clientTimeout?: number;
  /** Seconds between healthchecks of Keycloak and its database (the warm layer's healthcheckSeconds). Default: 5 and 3. */
  healthcheckSeconds?: number;
}

/**
 * Readiness check that needs nothing but bash (the official image and ours both have it; /bin/sh
 * may be dash, which has no /dev/tcp, hence CMD and not CMD-SHELL).
 */
export const KEYCLOAK_HEALTHCHECK = [
  "CMD",
  "bash",
  "-c",
  "exec 3<>/dev/tcp/127.0.0.1/9000 && printf 'GET /health/ready HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && read -r status <&3 && [[ $status == *' 200 '* ]]",
];

export class Keycloak extends pulumi.ComponentResource {
  /** Public base URL (issuers start with it). */
  public readonly publicUrl: string;
  /** Base URL the CI host uses for admin calls. */
  public readonly adminUrl: string;
  public readonly adminUser: string;
  public readonly adminPassword: pulumi.Output<string>;
  public readonly service: docker.Service;
  /** A keycloak provider logged in as the admin: for the warm layer's own objects and cold runs. */
  public readonly adminProvider: keycloak.Provider;
  public readonly provisioningClientId: pulumi.Output<string>;
  public readonly provisioningClientSecret: pulumi.Output<string>;

  constructor(name: string, args: KeycloakArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:identity:Keycloak", name, {}, opts);
    const { config, prefix, labels, provider, proxy } = args;
    const child = { parent: this, provider };

    requireAdminWay(name, config);
    this.publicUrl = publicUrl(proxy.scheme, args.host, proxy.httpPort, proxy.httpsPort);
    this.adminUrl = config.adminUrl ?? `http://127.0.0.1:${config.adminPort}`;
    this.adminUser = config.adminUser;

    const adminPassword = new GeneratedSecret(`${name}-admin-password`, { length: 32 }, { parent: this });
    this.adminPassword = adminPassword.value;
    const adminSecret = dockerSecret(
      `${name}-admin-secret`,
      prefix,
      "kc_admin_password",
      adminPassword.value,
      labels,
      child,
    );
    const database = new KeycloakDatabase(
      name,
      { config: config.database, prefix, labels, provider, healthcheckSeconds: args.healthcheckSeconds },
      { parent: this },
    );
    const adminNet = adminNetwork(`${name}-admin-network`, prefix, labels, child);
    const serviceName = prefixedName(prefix, "keycloak", SERVICE_NAME_MAX);
    this.service = new docker.Service(
      `${name}-service`,
      serviceArgs(args, { name: serviceName, publicUrl: this.publicUrl, database, adminSecret, adminNet }),
      { ...child, dependsOn: [database.service] },
    );
    const gateway =
      config.adminPort === null
        ? undefined
        : adminGateway(`${name}-admin-gateway`, {
            prefix,
            key: "keycloak",
            image: config.gatewayImage,
            port: config.adminPort,
            target: `${serviceName}:8080`,
            networkName: adminNet.name,
            labels,
            opts: child,
          });
    // The service converges only when its healthcheck passes, so the provider logs in to a ready server.
    this.adminProvider = new keycloak.Provider(
      `${name}-admin`,
      {
        url: this.adminUrl,
        realm: "master",
        clientId: "admin-cli",
        username: config.adminUser,
        password: adminPassword.value,
        clientTimeout: args.clientTimeout ?? 120,
        initialLogin: false,
      },
      { parent: this, dependsOn: [this.service, ...(gateway ? [gateway] : [])] },
    );
    const provisioning = provisioningClient(`${name}-provisioning`, config.provisioningClientId, {
      parent: this,
      provider: this.adminProvider,
    });
    this.provisioningClientId = provisioning.clientId;
    this.provisioningClientSecret = provisioning.secret;
    this.registerOutputs({ publicUrl: this.publicUrl, adminUrl: this.adminUrl });
  }
}

/** The CI host administers Keycloak through the admin port or through adminUrl: one must be there. */
function requireAdminWay(name: string, config: KeycloakConfig): void {
  if (config.adminPort === null && config.adminUrl === undefined) {
    throw new pulumi.InputPropertiesError({
      message: `Keycloak ${name}: the CI host needs a way in for admin calls`,
      errors: [{ propertyPath: "keycloak.adminPort", reason: "is null and keycloak.adminUrl is not set" }],
    });
  }
}

/** The admin API's way in from the CI host: a network of Keycloak's that only the gateway shares. */
function adminNetwork(
  name: string,
  prefix: string,
  labels: Record<string, string>,
  opts: pulumi.CustomResourceOptions,
): docker.Network {
  return new docker.Network(
    name,
    {
      name: prefixedName(prefix, "keycloak_admin", NETWORK_NAME_MAX),
      driver: "overlay",
      internal: true,
      attachable: true,
      labels: labelList(labels),
    },
    opts,
  );
}

/**
 * Keycloak's service: routed by Traefik, its passwords read from Docker secrets, on its database's
 * network, the proxy's and the admin network.
 */
function serviceArgs(
  args: KeycloakArgs,
  k: {
    name: string;
    publicUrl: string;
    database: KeycloakDatabase;
    adminSecret: docker.Secret;
    adminNet: docker.Network;
  },
): docker.ServiceArgs {
  const { config, labels, proxy } = args;
  const traefik = keycloakRouterLabels(args.routerName, args.host, proxy);
  return {
    name: k.name,
    labels: pulumi
      .output(proxy.network)
      .apply((net) => labelList({ ...traefik, "traefik.swarm.network": net, ...labels })),
    mode: { replicated: { replicas: 1 } },
    taskSpec: {
      containerSpec: {
        image: config.image,
        // Secrets come from files: neither Keycloak nor the official image reads *_FILE variables,
        // and a password in the service's environment is visible to `docker service inspect`.
        commands: [
          "/bin/bash",
          "-c",
          'KC_DB_PASSWORD="$(< /run/secrets/db_password)" KC_BOOTSTRAP_ADMIN_PASSWORD="$(< /run/secrets/admin_password)" exec /opt/keycloak/bin/kc.sh "$@"',
          "kc.sh",
        ],
        args: config.command,
        env: {
          KC_DB: "postgres",
          KC_DB_URL_HOST: k.database.host,
          KC_DB_URL_DATABASE: config.database.name,
          KC_DB_USERNAME: config.database.user,
          KC_BOOTSTRAP_ADMIN_USERNAME: config.adminUser,
          KC_HOSTNAME: k.publicUrl,
          // Admin calls from the CI host arrive on the published port, not through the proxy.
          KC_HOSTNAME_BACKCHANNEL_DYNAMIC: "true",
          KC_HTTP_ENABLED: "true",
          KC_PROXY_HEADERS: "xforwarded",
          KC_HEALTH_ENABLED: "true",
        },
        labels: labelList(labels),
        secrets: [
          k.database.passwordFile,
          {
            secretId: k.adminSecret.id,
            secretName: k.adminSecret.name,
            fileName: "admin_password",
            fileMode: 0o444,
          },
        ],
        healthcheck: {
          tests: KEYCLOAK_HEALTHCHECK,
          ...healthTiming(args.healthcheckSeconds ?? 5, 300),
          timeout: "4s",
          startPeriod: "5m",
        },
        stopGracePeriod: "20s",
      },
      networksAdvanceds: [{ id: k.database.network.id }, { id: proxy.networkId }, { id: k.adminNet.id }],
      placement: { constraints: ["node.role==manager", ...config.placement] },
      resources: taskResources(config.resources),
      restartPolicy: restartPolicy({ condition: "any", delay: "5s" }),
    },
    endpointSpec: { mode: "dnsrr" },
    updateConfig: { order: "stop-first", failureAction: "rollback" },
    convergeConfig: CONVERGE,
  };
}

/**
 * The provisioning client runs use: a confidential master-realm client whose service account may
 * only create realms.
 */
function provisioningClient(
  name: string,
  clientId: string,
  opts: { parent: pulumi.Resource; provider: keycloak.Provider },
): { clientId: pulumi.Output<string>; secret: pulumi.Output<string> } {
  const secret = new GeneratedSecret(`${name}-secret`, { length: 40 }, { parent: opts.parent });
  const client = new keycloak.openid.Client(
    name,
    {
      realmId: "master",
      clientId,
      name: "cc-ci run provisioning",
      description: "Creates the realms of CI runs. Managed by the cc-ci warm stack.",
      accessType: "CONFIDENTIAL",
      clientSecret: secret.value,
      serviceAccountsEnabled: true,
      standardFlowEnabled: false,
      directAccessGrantsEnabled: false,
      implicitFlowEnabled: false,
    },
    opts,
  );
  // create-realm only: a realm's creator is granted that realm's admin roles by Keycloak, and
  // nothing in master or in other runs' realms.
  new keycloak.openid.ClientServiceAccountRealmRole(
    `${name}-create-realm`,
    { realmId: "master", serviceAccountUserId: client.serviceAccountUserId, role: "create-realm" },
    opts,
  );
  return { clientId: client.clientId, secret: pulumi.secret(secret.value) };
}

/**
 * Keycloak's routers on the proxy: its public endpoints at <host>, on both entrypoints. The admin
 * console and API (/admin) and the master realm are not routed: a run reaches the realms it uses,
 * and the CI host administers Keycloak through the admin gateway on 127.0.0.1.
 */
export function keycloakRouterLabels(
  router: string,
  host: string,
  proxy: RouterProxy,
): Record<string, string> {
  const rule = `Host(\`${host}\`) && !PathPrefix(\`/admin\`) && !PathPrefix(\`/realms/master\`)`;
  return routerLabels(router, rule, 8080, proxy);
}

/** The entrypoints (and certificate resolver) a router of ours takes on the proxy. */
export type RouterProxy = { entrypoints: { web: string; webSecure: string }; certResolver?: string };

/** Routers `router` (web) and `router-secure` (web-secure, TLS) for `rule`, to `port` of the service. */
export function routerLabels(
  router: string,
  rule: string,
  port: number,
  proxy: RouterProxy,
): Record<string, string> {
  return {
    "traefik.enable": "true",
    [`traefik.http.services.${router}.loadbalancer.server.port`]: String(port),
    [`traefik.http.routers.${router}.rule`]: rule,
    [`traefik.http.routers.${router}.entrypoints`]: proxy.entrypoints.web,
    [`traefik.http.routers.${router}.service`]: router,
    [`traefik.http.routers.${router}-secure.rule`]: rule,
    [`traefik.http.routers.${router}-secure.entrypoints`]: proxy.entrypoints.webSecure,
    [`traefik.http.routers.${router}-secure.tls`]: "true",
    [`traefik.http.routers.${router}-secure.service`]: router,
    ...(proxy.certResolver
      ? { [`traefik.http.routers.${router}-secure.tls.certresolver`]: proxy.certResolver }
      : {}),
  };
}
