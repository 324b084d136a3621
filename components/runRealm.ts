/**
 * A run's own realm on a Keycloak (warm or cold): the realm, a confidential OIDC client whose
 * redirects point at the run's domain, and a test user with a generated password. The realm's name
 * carries the run's hex, and an attribute its run id, so audits can find it without any state.
 * On the warm Keycloak the realm is an AdoptedRealm: cc-ci makes it through the admin API as soon as
 * the run is validated, and the stack adopts it (and deletes it on destroy).
 */
import * as pulumi from "@pulumi/pulumi";
import * as keycloak from "@pulumi/keycloak";
import { AdoptedRealm, realmRepresentation, type AdminIdentity } from "../lib/adoptedRealm";
import { GeneratedSecret } from "../lib/generatedSecret";
import { OWNER_ATTRIBUTE, REALM_MAX, RUN_ATTRIBUTE } from "../lib/naming";

export interface RunRealmArgs {
  /** Realm name, at most 36 characters. */
  realm: string;
  runId: string;
  /** Base URLs of the app (redirect URIs and web origins are derived from them). */
  appUrls: string[];
  /** Keycloak's public base URL (the issuer starts with it). */
  keycloakUrl: string;
  /** OIDC client id. Default: the realm's name. */
  clientId?: string;
  /** Test user's name. Default: ci-user. */
  testUser?: string;
  /** Test user's e-mail domain. Default: the first app URL's host. */
  emailDomain?: string;
  /** Provider logged in with a right to create realms. */
  provider: keycloak.Provider;
  /** The state backend's owner id, an attribute of the realm (see LABELS.owner). */
  owner?: string;
  /** The same identity, when the realm is adopted (warm Keycloak) rather than made by the provider. */
  adopt?: AdminIdentity;
}

export class RunRealm extends pulumi.ComponentResource {
  public readonly realm: keycloak.Realm | AdoptedRealm;
  public readonly issuer: string;
  public readonly clientId: string;
  public readonly clientSecret: pulumi.Output<string>;
  public readonly username: string;
  public readonly password: pulumi.Output<string>;

  constructor(name: string, args: RunRealmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cc-ci:run:RunRealm", name, {}, opts);
    if (args.realm.length > REALM_MAX) {
      throw new pulumi.InputPropertiesError({
        message: `RunRealm ${name}: invalid realm`,
        errors: [
          {
            propertyPath: "realm",
            reason: `"${args.realm}" is ${args.realm.length} characters; Keycloak allows ${REALM_MAX}`,
          },
        ],
      });
    }
    const child = { parent: this, provider: args.provider };
    this.clientId = args.clientId ?? args.realm;
    this.username = args.testUser ?? "ci-user";
    this.issuer = `${args.keycloakUrl}/realms/${args.realm}`;
    const emailDomain = args.emailDomain ?? new URL(args.appUrls[0]).hostname;

    const representation = realmRepresentation(
      args.realm,
      args.runId,
      RUN_ATTRIBUTE,
      args.owner ? { attribute: OWNER_ATTRIBUTE, id: args.owner } : undefined,
    );
    this.realm = args.adopt
      ? new AdoptedRealm(
          `${name}-realm`,
          { representation, attribute: RUN_ATTRIBUTE, identity: args.adopt },
          { parent: this },
        )
      : new keycloak.Realm(`${name}-realm`, { ...representation, terraformDeletionProtection: false }, child);
    const realmId: pulumi.Output<string> =
      this.realm instanceof AdoptedRealm ? this.realm.realm : this.realm.id;
    const secret = new GeneratedSecret(`${name}-client-secret`, { length: 40 }, { parent: this });
    const client = new keycloak.openid.Client(
      `${name}-client`,
      {
        realmId,
        clientId: this.clientId,
        name: `cc-ci ${args.runId}`,
        accessType: "CONFIDENTIAL",
        clientSecret: secret.value,
        standardFlowEnabled: true,
        // Lets a recipe's check log in with the test user's password without a browser.
        directAccessGrantsEnabled: true,
        validRedirectUris: args.appUrls.map((u) => `${u}/*`),
        validPostLogoutRedirectUris: args.appUrls.map((u) => `${u}/*`),
        webOrigins: args.appUrls,
        rootUrl: args.appUrls[0],
      },
      child,
    );
    const password = new GeneratedSecret(`${name}-user-password`, { length: 24 }, { parent: this });
    new keycloak.User(
      `${name}-user`,
      {
        realmId,
        username: this.username,
        enabled: true,
        email: `${this.username}@${emailDomain}`,
        emailVerified: true,
        // Keycloak's user profile asks for both names before a first login otherwise.
        firstName: "CI",
        lastName: args.runId,
        initialPassword: { value: password.value, temporary: false },
      },
      child,
    );
    this.clientSecret = pulumi.secret(client.clientSecret);
    this.password = pulumi.secret(password.value);
    this.registerOutputs({ issuer: this.issuer, clientId: this.clientId });
  }
}
