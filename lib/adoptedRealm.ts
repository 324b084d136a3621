/**
 * A run's realm on the warm Keycloak as a resource of the run stack, made through Keycloak's admin
 * REST API with the warm layer's provisioning identity. cc-ci run creates the realm the moment the
 * run is validated (so SSO is ready seconds after the run starts, while the stack is still being
 * created) and this resource adopts it: `create` makes the realm only if it is not there yet, and
 * refuses one that belongs to another run. The stack owns it from then on: `destroy` deletes it.
 * A dynamic resource, so it runs inside the Node language host like GeneratedSecret.
 */
import * as pulumi from "@pulumi/pulumi";

/** What a run's realm is made of, the same whether cc-ci or this resource creates it. */
export interface RealmRepresentation {
  realm: string;
  enabled: true;
  displayName: string;
  attributes: Record<string, string>;
  /** The CI reaches apps over plain HTTP when the proxy has no TLS. */
  sslRequired: "none";
}

export function realmRepresentation(
  realm: string,
  runId: string,
  attribute: string,
  owner?: { attribute: string; id: string },
): RealmRepresentation {
  return {
    realm,
    enabled: true,
    displayName: `cc-ci run ${runId}`,
    attributes: { [attribute]: runId, ...(owner ? { [owner.attribute]: owner.id } : {}) },
    sslRequired: "none",
  };
}

export interface AdminIdentity {
  /** Keycloak's admin base URL, e.g. http://127.0.0.1:8180. */
  adminUrl: string;
  realm: string;
  clientId: string;
  clientSecret: string;
}

interface Inputs {
  representation: RealmRepresentation;
  /** The attribute that names the owning run. */
  attribute: string;
  identity: AdminIdentity;
}

/**
 * Pulumi serialises the provider's functions into the state, with what they capture: this helper
 * and globals (fetch), nothing else.
 */
async function adminToken(id: AdminIdentity): Promise<string> {
  const res = await fetch(`${id.adminUrl}/realms/${id.realm}/protocol/openid-connect/token`, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: id.clientId,
      client_secret: id.clientSecret,
    }),
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok) throw new Error(`Keycloak at ${id.adminUrl}: token request failed: ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: Inputs) {
    const id = inputs.identity;
    const token = await adminToken(id);
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const name = inputs.representation.realm;
    const url = `${id.adminUrl}/admin/realms/${encodeURIComponent(name)}`;
    const seen = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
    if (seen.ok) {
      const have = (await seen.json()) as { attributes?: Record<string, string> };
      const want = inputs.representation.attributes[inputs.attribute];
      if (have.attributes?.[inputs.attribute] !== want)
        throw new Error(`realm ${name} exists and is not run ${want}'s: refusing to adopt it`);
    } else if (seen.status === 404 || seen.status === 403) {
      // 403: the provisioning client sees only realms it created, so an absent realm may read so.
      const made = await fetch(`${id.adminUrl}/admin/realms`, {
        method: "POST",
        headers,
        body: JSON.stringify(inputs.representation),
        signal: AbortSignal.timeout(60_000),
      });
      if (made.status !== 201)
        throw new Error(`Keycloak: creating realm ${name} failed: ${made.status} ${await made.text()}`);
    } else throw new Error(`Keycloak: reading realm ${name} failed: ${seen.status}`);
    return { id: name, outs: { ...inputs, realm: name } };
  },
  async diff(_id: string, olds: Inputs, news: Inputs) {
    const replace = JSON.stringify(olds.representation) !== JSON.stringify(news.representation);
    const update = JSON.stringify(olds.identity) !== JSON.stringify(news.identity);
    return {
      changes: replace || update,
      replaces: replace ? ["representation"] : [],
      deleteBeforeReplace: true,
    };
  },
  async update(_id: string, _olds: Inputs, news: Inputs) {
    return { outs: { ...news, realm: news.representation.realm } };
  },
  async delete(_id: string, olds: Inputs) {
    const id = olds.identity;
    const token = await adminToken(id);
    const name = olds.representation.realm;
    const res = await fetch(`${id.adminUrl}/admin/realms/${encodeURIComponent(name)}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(60_000),
    });
    // Gone already (404), or no longer visible to the identity that made it (403): nothing to do.
    if (!res.ok && res.status !== 404 && res.status !== 403)
      throw new Error(`Keycloak: deleting realm ${name} failed: ${res.status} ${await res.text()}`);
  },
};

export interface AdoptedRealmArgs {
  representation: RealmRepresentation;
  attribute: string;
  identity: pulumi.Input<AdminIdentity>;
}

export class AdoptedRealm extends pulumi.dynamic.Resource {
  /** The realm's name (also its id, as the keycloak provider's resources refer to it). */
  declare public readonly realm: pulumi.Output<string>;

  constructor(name: string, args: AdoptedRealmArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        representation: args.representation,
        attribute: args.attribute,
        identity: pulumi.secret(args.identity),
        realm: undefined,
      },
      { ...opts, additionalSecretOutputs: ["identity"] },
      "cc-ci",
      "AdoptedRealm",
    );
  }
}
