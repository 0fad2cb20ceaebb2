// The storage credentials, which never reach the guest: Entra ID client-credentials tokens,
// a SharedKey signature made with the account key, or a SAS appended to the query.
// `authorize` adds the credential to a request after the http import's policy check; the
// `adls:writeback/auth` import only tells the guest the credential's generation and renews
// it when the service refused a request.

import { createHmac } from 'node:crypto';

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

/** The standard headers, in the order SharedKey's string to sign lists them. */
const SIGNED_HEADERS = [
  'content-encoding', 'content-language', 'content-length', 'content-md5', 'content-type', 'date',
  'if-modified-since', 'if-match', 'if-none-match', 'if-unmodified-since', 'range',
];

/**
 * SharedKey's string to sign of `request` (method, url, headers) with a body of `length`
 * bytes, for `accountName` (learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key,
 * service version 2015-02-21 and later: a length of 0 is signed as empty).
 */
export function sharedKeyStringToSign(request, length, accountName) {
  const headers = new Map();
  for (const { name, value } of request.headers) headers.set(name.toLowerCase(), value);
  const lines = [request.method.toUpperCase()];
  for (const name of SIGNED_HEADERS) {
    lines.push(name === 'content-length' ? (length ? String(length) : '') : (headers.get(name) ?? ''));
  }
  const ms = [...headers].filter(([n]) => n.startsWith('x-ms-')).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, value] of ms) lines.push(`${name}:${value.trim().split(/\s+/).join(' ')}`);
  const url = new URL(request.url);
  let resource = `/${accountName}${url.pathname}`;
  const params = new Map();
  for (const [name, value] of url.searchParams) {
    const key = name.toLowerCase();
    params.set(key, [...(params.get(key) ?? []), value]);
  }
  for (const name of [...params.keys()].sort()) resource += `\n${name}:${params.get(name).sort().join(',')}`;
  lines.push(resource);
  return lines.join('\n');
}

/**
 * The storage credential of `accountName`'s account key (base64): each request signed with
 * SharedKey. `{ auth, authorize }` as `storageCredential`; a refused signature cannot be
 * renewed, so `refresh` says so.
 */
export function sharedKeyCredential({ accountName, key }) {
  const keyBytes = Buffer.from(key, 'base64');
  if (!keyBytes.length || keyBytes.toString('base64') !== key.trim()) {
    throw new Error('the account key is not base64: use key1 or key2 of the storage account');
  }
  return {
    auth: {
      ready: () => 1n,
      refresh() {
        throw { tag: 'rejected', val: `the storage service refused the SharedKey signature made with the key of \`${accountName}\`, which cannot be renewed: check the account key` };
      },
    },
    authorize(request, length = 0) {
      const dated = { ...request, headers: [...request.headers, { name: 'x-ms-date', value: new Date().toUTCString() }] };
      const signature = createHmac('sha256', keyBytes).update(sharedKeyStringToSign(dated, length, accountName), 'utf8').digest('base64');
      return { ...dated, headers: [...dated.headers, { name: 'authorization', value: `SharedKey ${accountName}:${signature}` }] };
    },
  };
}

/**
 * The storage credential of a SAS token (with or without its `?`): appended to each request's
 * query. It must carry `sig` and an `se` still in the future.
 */
export function sasCredential({ token }) {
  const query = token.trim().replace(/^\?/, '');
  const params = new URLSearchParams(query);
  if (!params.get('sig')) throw new Error('the SAS token has no signature (`sig`)');
  const expiry = Date.parse(params.get('se') ?? '');
  if (Number.isNaN(expiry)) throw new Error('the SAS token has no valid expiry (`se`)');
  const live = () => {
    if (expiry <= Date.now()) throw { tag: 'rejected', val: 'the SAS has expired: make a new one' };
  };
  live();
  return {
    auth: {
      ready() {
        live();
        return 1n;
      },
      refresh() {
        throw { tag: 'rejected', val: 'the storage service refused the SAS, which cannot be renewed: check the SAS token' };
      },
    },
    authorize(request) {
      live();
      const url = new URL(request.url);
      url.search = url.search ? `${url.search.slice(1)}&${query}` : query;
      return { ...request, url: url.toString() };
    },
  };
}
