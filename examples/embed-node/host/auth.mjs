// The `adls:writeback/auth` import: Entra ID client-credentials tokens for the granted
// scope only. The client secret stays here; the guest gets the token and its expiry.

/** The one scope a writeback needs. */
export const STORAGE_SCOPE = 'https://storage.azure.com/.default';
/** Refresh a cached token this long before it expires (as the Rust host does). */
const MIN_TTL_MS = 5 * 60_000;

/**
 * The auth interface for the app `clientId` with `secret` in `tenantId` at `authorityHost`
 * (`https://login.microsoftonline.com` on Azure), fetching over `worker`.
 */
export function authImport({ authorityHost, tenantId, clientId, secret, worker }) {
  const tokenUrl = `${authorityHost.replace(/\/+$/, '')}/${tenantId}/oauth2/v2.0/token`;
  const granted = [STORAGE_SCOPE];
  const cache = new Map(); // scope -> { token, expiresAtMs, lifetimeMs }
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

  function checkGranted(scope) {
    if (!granted.includes(scope)) {
      throw {
        tag: 'scope-not-granted',
        val: `this job grants no token for scope \`${scope}\` (granted: ${granted.join(', ')})`,
      };
    }
  }

  // u64 fields are BigInt in jco's mapping.
  const out = (cached) => ({ token: cached.token, expiresAtMs: BigInt(cached.expiresAtMs) });

  return {
    token(scope) {
      checkGranted(scope);
      let cached = cache.get(scope);
      const margin = cached ? Math.min(MIN_TTL_MS, cached.lifetimeMs / 2) : 0;
      if (!cached || cached.expiresAtMs - Date.now() <= margin) {
        cached = fetchToken(scope);
        cache.set(scope, cached);
      }
      return out(cached);
    },
    // The service refused the cached token (expired or revoked): drop it and fetch anew.
    // Imports are synchronous and the guest calls one at a time, so refreshes never overlap.
    refresh(scope) {
      checkGranted(scope);
      cache.delete(scope);
      const fresh = fetchToken(scope);
      cache.set(scope, fresh);
      return out(fresh);
    },
  };
}

function unavailable(val) {
  return { tag: 'unavailable', val };
}
