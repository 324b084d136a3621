/**
 * The few Keycloak admin REST calls cc-ci makes (token, list, read and delete realms). The official
 * @keycloak/keycloak-admin-client is ESM-only and this project is CommonJS (Pulumi's Node runtime
 * loads programs as CommonJS), so these stable endpoints are called with fetch instead.
 */
export interface KeycloakIdentity {
  /** Base URL for admin calls, e.g. http://127.0.0.1:8180. */
  url: string;
  realm: string;
  clientId: string;
  clientSecret?: string;
  username?: string;
  password?: string;
}

export interface RealmSummary {
  realm: string;
  id: string;
  displayName?: string;
  attributes?: Record<string, string>;
}

/** What cc-ci sets on a realm it creates or updates. */
export type RealmInput = Omit<RealmSummary, "id"> & { enabled?: boolean; sslRequired?: string };

export class KeycloakAdmin {
  private token?: { value: string; expires: number };

  constructor(
    private readonly identity: KeycloakIdentity,
    private readonly timeoutMs = 15000,
  ) {}

  private async accessToken(): Promise<string> {
    if (this.token && this.token.expires > Date.now() + 5000) return this.token.value;
    const id = this.identity;
    const body = new URLSearchParams({ client_id: id.clientId });
    if (id.username) {
      body.set("grant_type", "password");
      body.set("username", id.username);
      body.set("password", id.password ?? "");
    } else body.set("grant_type", "client_credentials");
    if (id.clientSecret) body.set("client_secret", id.clientSecret);
    const res = await fetch(`${id.url}/realms/${id.realm}/protocol/openid-connect/token`, {
      method: "POST",
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!res.ok)
      throw new Error(`Keycloak at ${id.url}: token request failed: ${res.status} ${await res.text()}`);
    const json = (await res.json()) as { access_token: string; expires_in: number };
    this.token = { value: json.access_token, expires: Date.now() + json.expires_in * 1000 };
    return json.access_token;
  }

  /** Any admin API call (`path` below /admin), with this identity's token. */
  async call(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.identity.url}/admin${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await this.accessToken()}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
  }

  /** Creates a realm (a run's, before its stack adopts it; tests leave one outside any state). */
  async createRealm(
    realm: Omit<RealmSummary, "id"> & { enabled?: boolean; sslRequired?: string },
  ): Promise<void> {
    const res = await this.call("POST", "/realms", { enabled: true, ...realm });
    if (res.status !== 201)
      throw new Error(`Keycloak: creating realm ${realm.realm} failed: ${res.status} ${await res.text()}`);
  }

  /** Realms this identity can see (the provisioning client sees only the realms it created). */
  async realms(brief = false): Promise<RealmSummary[]> {
    let res = await this.call("GET", `/realms?briefRepresentation=${brief}`);
    // A listing while other runs rename or delete realms can fail with a 400 or 5xx that the next
    // read does not (seen: 400 "Cannot parse the JSON" among six concurrent renames): a read, so
    // it is asked again, twice at most, a moment apart.
    for (let again = 0; again < 2 && (res.status === 400 || res.status >= 500); again++) {
      await res.text().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 250 * (again + 1)));
      res = await this.call("GET", `/realms?briefRepresentation=${brief}`);
    }
    // Keycloak answers 403, not an empty list, to an identity that may view no realm at all (the
    // provisioning client before it created any, or after all its realms are gone).
    if (res.status === 403) return [];
    if (!res.ok) throw new Error(`Keycloak: listing realms failed: ${res.status} ${await res.text()}`);
    return (await res.json()) as RealmSummary[];
  }

  async realm(name: string): Promise<RealmSummary | undefined> {
    const res = await this.call("GET", `/realms/${encodeURIComponent(name)}`);
    if (res.status === 404 || res.status === 403) return undefined;
    if (!res.ok) throw new Error(`Keycloak: reading realm ${name} failed: ${res.status}`);
    return (await res.json()) as RealmSummary;
  }

  /**
   * Updates (or renames, with another `realm`) a realm. False when it is not there to update (gone,
   * invisible to this identity, or the new name taken): a pooled realm another run claimed first.
   */
  async updateRealm(name: string, rep: RealmInput): Promise<boolean> {
    const res = await this.call("PUT", `/realms/${encodeURIComponent(name)}`, rep);
    if (res.ok) return true;
    if ([403, 404, 409].includes(res.status)) return false;
    throw new Error(`Keycloak: updating realm ${name} failed: ${res.status} ${await res.text()}`);
  }

  async deleteRealm(name: string): Promise<void> {
    const res = await this.call("DELETE", `/realms/${encodeURIComponent(name)}`);
    if (!res.ok && res.status !== 404)
      throw new Error(`Keycloak: deleting realm ${name} failed: ${res.status} ${await res.text()}`);
  }
}

/** Whether Keycloak answers at `url` (its master realm's discovery document). */
export async function keycloakAnswers(url: string, timeoutMs = 5000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/realms/master/.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Why the warm layer's provisioning identity cannot work on Keycloak at `kc.adminUrl`, or undefined
 * when it can: it gets a token and lists its realms. Keycloak answering its discovery document is not
 * enough: a realm left half-made or half-deleted makes every realm listing fail while the server
 * answers, and a provisioning client that is gone or has another secret fails at the token.
 */
export async function provisioningProblem(
  kc: Parameters<typeof provisioningAdmin>[0],
  timeoutMs = 5000,
): Promise<string | undefined> {
  try {
    await provisioningAdmin(kc, timeoutMs).realms(true);
    return undefined;
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    // fetch's own failures say only "fetch failed"; the cause names it (ECONNREFUSED, a bad port).
    if (err.name === "TimeoutError") return `no answer within ${timeoutMs / 1000} s`;
    const why = err.cause?.code ?? err.cause?.message;
    return why ? `${err.message} (${why})` : err.message;
  }
}

/** The warm layer's provisioning identity (it sees and administers only the realms it created). */
export function provisioningAdmin(
  kc: {
    adminUrl: string;
    provisioning: { realm: string; clientId: string; clientSecret: string };
  },
  timeoutMs?: number,
): KeycloakAdmin {
  const p = kc.provisioning;
  return new KeycloakAdmin(
    { url: kc.adminUrl, realm: p.realm, clientId: p.clientId, clientSecret: p.clientSecret },
    timeoutMs,
  );
}
