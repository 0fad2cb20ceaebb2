// The storage credential: Entra ID client-credentials tokens for Azure Storage, which never
// reach the guest. `authorize` adds the token to a request after the http import's policy
// check; the `adls:writeback/auth` import only tells the guest the credential's generation
// and renews it when the service refused a request.

/** The one scope a writeback needs. */
export const STORAGE_SCOPE = 'https://storage.azure.com/.default';
/** Refresh a cached token this long before it expires (as the Rust host does). */
const MIN_TTL_MS = 5 * 60_000;

/**
 * The storage credential of the app `clientId` with `secret` in `tenantId` at
 * `authorityHost` (`https://login.microsoftonline.com` on Azure), fetching over `worker`:
 * `{ auth, authorize }`, the auth import and the function that authorizes a request.
 */
export function storageCredential({ authorityHost, tenantId, clientId, secret, worker }) {
  const tokenUrl = `${authorityHost.replace(/\/+$/, '')}/${tenantId}/oauth2/v2.0/token`;
  let cached = null; // { token, expiresAtMs, lifetimeMs }
  let generation = 1n; // u64 is BigInt in jco's mapping
  // Nothing that leaves this module may contain the secret.
  const scrub = (text) => (secret ? text.split(secret).join('***') : text);

  function fetchToken(scope) {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: secret,
      scope,
    });
    const request = {
      method: 'post',
      url: tokenUrl,
      headers: [{ name: 'content-type', value: 'application/x-www-form-urlencoded' }],
      body: new TextEncoder().encode(form.toString()),
    };
    let outcome;
    try {
      [outcome] = worker.call({ requests: [request], limit: 1, timeoutMs: 60_000 }, 65_000).outcomes;
    } catch (e) {
      outcome = { tag: 'err', val: { val: e.message } };
    }
    if (outcome.tag === 'err') {
      throw unavailable(`cannot reach the token endpoint ${tokenUrl}: ${outcome.val.val}`);
    }
    const { status, body } = outcome.val;
    const text = new TextDecoder().decode(body);
    let answer;
    try {
      answer = JSON.parse(text);
    } catch {
      throw unavailable(`the token endpoint answered ${status}: ${scrub(text.slice(0, 300))}`);
    }
    if (status >= 200 && status < 300 && typeof answer.access_token === 'string') {
      // `expires_in` is a number on the v2 endpoint and a string on v1.
      const lifetimeMs = Number(answer.expires_in) * 1000 || 0;
      return { token: answer.access_token, expiresAtMs: Date.now() + lifetimeMs, lifetimeMs };
    }
    if (answer.error) {
      // Keep Entra's own code (AADSTS...) but drop its trace and correlation IDs.
      const description = String(answer.error_description ?? '').split(/\r?\n| Trace ID:/)[0].trim();
      throw { tag: 'rejected', val: scrub(`${description} (${answer.error}): check the client id, secret and tenant`) };
    }
    throw unavailable(`the token endpoint answered ${status} without a token`);
  }

  function current() {
    const margin = cached ? Math.min(MIN_TTL_MS, cached.lifetimeMs / 2) : 0;
    if (!cached || cached.expiresAtMs - Date.now() <= margin) cached = fetchToken(STORAGE_SCOPE);
    return cached;
  }

  return {
    auth: {
      ready() {
        current();
        return generation;
      },
      // The service refused a request sent under `refused`: renew unless that happened
      // already. Imports are synchronous and the guest calls one at a time, so renewals
      // never overlap.
      refresh(refused) {
        if (generation > refused) return generation;
        cached = fetchToken(STORAGE_SCOPE);
        generation += 1n;
        return generation;
      },
    },
    /** `request` (method, url, headers) with the storage token added. */
    authorize(request) {
      const authorization = { name: 'authorization', value: `Bearer ${current().token}` };
      return { ...request, headers: [...request.headers, authorization] };
    },
  };
}

function unavailable(val) {
  return { tag: 'unavailable', val };
}
