// Tests of the host's policy and of `send-all`, without the component: `npm test`.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';

import { authImport, STORAGE_SCOPE } from '../host/auth.mjs';
import { BlockingWorker } from '../host/blocking.mjs';
import { httpImport } from '../host/http.mjs';
import { localFileSource } from '../host/source.mjs';

/** A stand-in for BlockingWorker that records requests and answers 200. */
function fakeWorker(answer = () => ({ status: 200, headers: [], body: new Uint8Array() })) {
  const seen = [];
  return {
    seen,
    call({ requests }) {
      seen.push(...requests);
      return { outcomes: requests.map((r) => ({ tag: 'ok', val: answer(r) })) };
    },
  };
}

const request = (url) => ({ method: 'put', url, headers: [], body: new Uint8Array() });

test('http reaches the granted origin only, and answers in request order', () => {
  const worker = fakeWorker((r) => ({ status: 201, headers: [{ name: 'x-url', value: r.url }], body: new Uint8Array() }));
  const http = httpImport({ allowedOrigin: 'http://127.0.0.1:8080', maxInFlight: 4, worker });
  const outcomes = http.sendAll([
    request('http://127.0.0.1:8080/acct/fs/a'),
    request('http://127.0.0.1:8081/acct/fs/b'),
    request('HTTP://127.0.0.1:8080/acct/fs/c'),
    request('https://127.0.0.1:8080/acct/fs/d'),
    request('not a url'),
  ]);
  assert.deepEqual(
    outcomes.map((o) => (o.tag === 'ok' ? o.val.headers[0].value : o.val.tag)),
    ['http://127.0.0.1:8080/acct/fs/a', 'denied', 'HTTP://127.0.0.1:8080/acct/fs/c', 'denied', 'invalid-request'],
  );
  assert.equal(worker.seen.length, 2, 'denied requests never reach the worker');
  assert.throws(() => http.send(request('http://evil.example/')), (e) => e.tag === 'denied');
});

test('auth grants the storage scope only and never leaks the secret', () => {
  const secret = 's3cret-value';
  const worker = fakeWorker(() => ({
    status: 401,
    headers: [],
    body: new TextEncoder().encode(JSON.stringify({
      error: 'invalid_client',
      error_description: `AADSTS7000215: Invalid client secret ${secret}. Trace ID: 1`,
    })),
  }));
  const auth = authImport({ authorityHost: 'http://127.0.0.1:1', tenantId: 't', clientId: 'c', secret, worker });
  assert.throws(() => auth.token('https://graph.microsoft.com/.default'), (e) => e.tag === 'scope-not-granted');
  assert.equal(worker.seen.length, 0);
  assert.throws(
    () => auth.token(STORAGE_SCOPE),
    (e) => e.tag === 'rejected' && e.val.includes('AADSTS7000215') && !e.val.includes(secret) && !e.val.includes('Trace ID'),
  );
});

test('auth caches tokens and refresh drops the cached one', () => {
  let issued = 0;
  const worker = fakeWorker(() => ({
    status: 200,
    headers: [],
    body: new TextEncoder().encode(JSON.stringify({ access_token: `t-${++issued}`, expires_in: 3600 })),
  }));
  const auth = authImport({ authorityHost: 'http://127.0.0.1:1', tenantId: 't', clientId: 'c', secret: 's', worker });
  assert.equal(auth.token(STORAGE_SCOPE).token, 't-1');
  assert.equal(auth.token(STORAGE_SCOPE).token, 't-1');
  const fresh = auth.refresh(STORAGE_SCOPE);
  assert.equal(fresh.token, 't-2');
  assert.equal(typeof fresh.expiresAtMs, 'bigint');
  assert.equal(auth.token(STORAGE_SCOPE).token, 't-2');
  assert.equal(worker.seen.length, 2);
  assert.throws(() => auth.refresh('https://graph.microsoft.com/.default'), (e) => e.tag === 'scope-not-granted');
});

test('source serves the named local file only, to its end', () => {
  const dir = mkdtempSync(join(tmpdir(), 'embed-node-'));
  const path = join(dir, 'sales.csv');
  writeFileSync(path, 'a,b\n1,2\n');
  const source = localFileSource({ path, datasetId: 'sales' });
  assert.throws(() => source.open({ kind: 'local-file', id: 'other' }), (e) => e.tag === 'not-granted');
  assert.throws(() => source.describe({ kind: 'domo', id: 'sales' }), (e) => e.tag === 'not-granted');
  assert.equal(source.describe({ kind: 'local-file', id: 'sales' }).owner, undefined);
  const reader = source.open({ kind: 'local-file', id: 'sales' });
  let text = '';
  for (let chunk; (chunk = reader.read(3)).length > 0; ) text += Buffer.from(chunk);
  assert.equal(text, 'a,b\n1,2\n');
});

test('send-all runs its requests concurrently in the worker', async () => {
  // The server runs in a thread of its own: this one blocks while the requests run.
  const server = new Worker(
    `const http = require('node:http'); const { parentPort } = require('node:worker_threads');
     let inFlight = 0, most = 0;
     http.createServer((req, res) => {
       most = Math.max(most, ++inFlight);
       const delay = Number(new URL(req.url, 'http://x').searchParams.get('delay'));
       setTimeout(() => { inFlight--; res.setHeader('x-most', String(most)); res.end(req.url); }, delay);
     }).listen(0, '127.0.0.1', function () { parentPort.postMessage(this.address().port); });`,
    { eval: true },
  );
  const port = await new Promise((resolve) => server.once('message', resolve));
  const origin = `http://127.0.0.1:${port}`;
  const worker = new BlockingWorker(new URL('../host/fetch-worker.mjs', import.meta.url));
  const http = httpImport({ allowedOrigin: origin, maxInFlight: 4, worker });
  const delays = [400, 300, 200, 100];
  const started = Date.now();
  const outcomes = http.sendAll(delays.map((d) => ({ method: 'get', url: `${origin}/?delay=${d}`, headers: [], body: new Uint8Array() })));
  const elapsed = Date.now() - started;
  await worker.terminate();
  await server.terminate();
  assert.deepEqual(outcomes.map((o) => Buffer.from(o.val.body).toString()), delays.map((d) => `/?delay=${d}`));
  assert.ok(elapsed < 900, `took ${elapsed} ms: the requests ran one after another`);
  assert.equal(outcomes.at(-1).val.headers.find((h) => h.name === 'x-most').value, '4');
});
