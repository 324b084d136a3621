/**
 * Waiting until a deployed run answers: its app through Traefik at its per-run domain, then its
 * realm's OIDC discovery through Traefik.
 */
import { isTraefikNotFound, viaProxy, waitFor, type ProxyAddress } from "../../adapters/http";

export async function waitReachable(
  appUrl: string,
  proxy: ProxyAddress,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  await waitFor(
    `app at ${appUrl} through Traefik`,
    timeoutMs,
    async () => {
      const a = await viaProxy(`${appUrl}/`, proxy);
      return !isTraefikNotFound(a) && a.status < 502;
    },
    250,
    signal,
  );
}

export async function waitSsoReady(
  issuer: string,
  proxy: ProxyAddress,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  await waitFor(
    `OIDC discovery of ${issuer}`,
    timeoutMs,
    async () => {
      const a = await viaProxy(`${issuer}/.well-known/openid-configuration`, proxy);
      return a.status === 200 && (JSON.parse(a.body) as { issuer?: string }).issuer === issuer;
    },
    250,
    signal,
  );
}
