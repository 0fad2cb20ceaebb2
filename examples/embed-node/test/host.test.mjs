// Tests of the host's policy, its pipeline and its digests, without the component: `npm test`.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';

import { sasCredential, sharedKeyCredential, sharedKeyStringToSign, storageCredential } from '../host/auth.mjs';
import { BlockingWorker } from '../host/blocking.mjs';
import { digestImport } from '../host/digest.mjs';
import { httpImport } from '../host/http.mjs';
import { localFileSource } from '../host/source.mjs';

/** A stand-in for BlockingWorker that records requests and answers 200. */
function fakeWorker(answer = () => ({ status: 200, headers: [], body: new Uint8Array() })) {
  const seen = [];
  const posted = [];
  return {
    seen,
    call({ requests }) {
      seen.push(...requests);
      return { outcomes: requests.map((r) => ({ tag: 'ok', val: answer(r) })) };
    },
    post(message) {
      seen.push(message.request);
      posted.push({ pipeline: message.pipeline, ticket: message.ticket, outcome: { tag: 'ok', val: answer(message.request) } });
    },
    receive(wanted) {
      const at = posted.findIndex(wanted);
      return posted.splice(at, 1)[0];
    },
  };
}

const request = (url) => ({ method: 'put', url, headers: [], body: new Uint8Array() });

test('http reaches the granted origin only, and a pipeline answers every ticket once', () => {
  const worker = fakeWorker((r) => ({ status: 201, headers: [{ name: 'x-url', value: r.url }], body: new Uint8Array() }));
  const http = httpImport({ allowedOrigin: 'http://127.0.0.1:8080', maxInFlight: 4, worker });
  const pipeline = new http.Pipeline(8);
  const body = new http.Body(new Uint8Array([1, 2, 3]));
  assert.equal(body.length(), 3n);
  const urls = [
    'http://127.0.0.1:8080/acct/fs/a',
    'http://127.0.0.1:8081/acct/fs/b',
    'HTTP://127.0.0.1:8080/acct/fs/c',
    'https://127.0.0.1:8080/acct/fs/d',
    'not a url',
  ];
  const tickets = urls.map((url) => pipeline.submit({ method: 'put', url, headers: [] }, body));
  const answers = new Map();
  for (let done; (done = pipeline.next()); ) answers.set(done.ticket, done.outcome);
  assert.equal(answers.size, urls.length);
  assert.deepEqual(
    tickets.map((t) => answers.get(t)).map((o) => (o.tag === 'ok' ? o.val.headers[0].value : o.val.tag)),
    ['http://127.0.0.1:8080/acct/fs/a', 'denied', 'HTTP://127.0.0.1:8080/acct/fs/c', 'denied', 'invalid-request'],
  );
  assert.equal(worker.seen.length, 2, 'denied requests never reach the worker');
  assert.deepEqual([...worker.seen[0].body], [1, 2, 3]);
  assert.equal(pipeline.next(), undefined, 'nothing in flight');
  assert.throws(() => http.send(request('http://evil.example/')), (e) => e.tag === 'denied');
});

test('digests: MD5, SHA-256 and the CRC-64 Azure Storage checks', () => {
  const digest = digestImport();
  const body = { bytes: new TextEncoder().encode('123456789') };
  // CRC-64/NVME's check value, little-endian.
  assert.equal(Buffer.from(digest.ofBody('crc64', body)).toString('hex'), '8898790a86148bae');
  assert.equal(Buffer.from(digest.ofBody('md5', body)).toString('hex'), '25f9e794323b453885f5181f1b624d0b');
  const running = new digest.Hasher('sha256');
  running.update({ bytes: new TextEncoder().encode('1234') });
  running.update({ bytes: new TextEncoder().encode('56789') });
  assert.deepEqual(running.finish(), digest.ofBody('sha256', body));
});

test('a refused secret is explained without the secret', () => {
  const secret = 's3cret-value';
  const worker = fakeWorker(() => ({
    status: 401,
    headers: [],
    body: new TextEncoder().encode(JSON.stringify({
      error: 'invalid_client',
      error_description: `AADSTS7000215: Invalid client secret ${secret}. Trace ID: 1`,
    })),
  }));
  const { auth } = storageCredential({ authorityHost: 'http://127.0.0.1:1', tenantId: 't', clientId: 'c', secret, worker });
  assert.throws(
    () => auth.ready(),
    (e) => e.tag === 'rejected' && e.val.includes('AADSTS7000215') && !e.val.includes(secret) && !e.val.includes('Trace ID'),
  );
});

test('the token is added by the host, never handed to the guest, and renewed once per generation', () => {
  let issued = 0;
  const worker = fakeWorker((r) => (r.url.includes('/oauth2/')
    ? { status: 200, headers: [], body: new TextEncoder().encode(JSON.stringify({ access_token: `t-${++issued}`, expires_in: 3600 })) }
    : { status: 200, headers: r.headers, body: new Uint8Array() }));
  const credential = storageCredential({ authorityHost: 'http://127.0.0.1:1', tenantId: 't', clientId: 'c', secret: 's', worker });
  const { auth } = credential;
  assert.equal(auth.ready(), 1n);
  assert.equal(auth.ready(), 1n, 'cached');
  const http = httpImport({ allowedOrigin: 'http://127.0.0.1:8080', maxInFlight: 2, worker, authorize: credential.authorize });
  const sent = http.send(request('http://127.0.0.1:8080/acct/fs'));
  assert.deepEqual(sent.headers.find((h) => h.name === 'authorization'), { name: 'authorization', value: 'Bearer t-1' });
  assert.equal(auth.refresh(1n), 2n);
  assert.equal(auth.refresh(1n), 2n, 'a second refusal of the same generation shares the renewal');
  assert.equal(issued, 2);
  const again = http.send(request('http://127.0.0.1:8080/acct/fs'));
  assert.equal(again.headers.find((h) => h.name === 'authorization').value, 'Bearer t-2');
  // A guest that brings its own credential is refused before anything is sent.
  const forged = { ...request('http://127.0.0.1:8080/acct/fs'), headers: [{ name: 'Authorization', value: 'Bearer x' }] };
  assert.throws(() => http.send(forged), (e) => e.tag === 'invalid-request');
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

test('a pipeline runs its requests concurrently in the worker, up to its bound', async () => {
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
  const delays = [400, 300, 200, 100, 50];
  const started = Date.now();
  const pipeline = new http.Pipeline(4);
  const empty = new http.Body(new Uint8Array());
  for (const d of delays) pipeline.submit({ method: 'get', url: `${origin}/?delay=${d}`, headers: [] }, empty);
  const finished = [];
  for (let done; (done = pipeline.next()); ) finished.push(done);
  const elapsed = Date.now() - started;
  await worker.terminate();
  await server.terminate();
  // Every request is answered once; the fifth waited for a lane.
  assert.deepEqual(
    finished.map((f) => Buffer.from(f.outcome.val.body).toString()).sort(),
    delays.map((d) => `/?delay=${d}`).sort(),
  );
  assert.deepEqual(finished.map((f) => f.ticket).sort(), [1n, 2n, 3n, 4n, 5n]);
  assert.ok(elapsed < 900, `took ${elapsed} ms: the requests ran one after another`);
  const most = finished.map((f) => Number(f.outcome.val.headers.find((h) => h.name === 'x-most').value));
  assert.equal(Math.max(...most), 4);
});

/** The emulator's published account key (Azurite's too). */
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

test("SharedKey signs the string the Rust host signs, and the key stays in the host", () => {
  const append = {
    method: 'patch',
    url: 'http://127.0.0.1:10004/devstoreaccount1/fs/a%20b.csv?position=0&action=append',
    headers: [
      { name: 'x-ms-version', value: '2023-11-03' },
      { name: 'X-MS-Client-Request-Id', value: '  run-1   7 ' },
      { name: 'Content-Type', value: 'text/csv' },
    ],
  };
  // The same request and string as host/src/plumbing/shared_key.rs's test.
  assert.equal(
    sharedKeyStringToSign(append, 3, 'devstoreaccount1'),
    'PATCH\n\n\n3\n\ntext/csv\n\n\n\n\n\n\n'
      + 'x-ms-client-request-id:run-1 7\nx-ms-version:2023-11-03\n'
      + '/devstoreaccount1/devstoreaccount1/fs/a%20b.csv\naction:append\nposition:0',
  );
  const { auth, authorize } = sharedKeyCredential({ accountName: 'devstoreaccount1', key: ACCOUNT_KEY });
  assert.equal(auth.ready(), 1n);
  const signed = authorize(append, 3);
  const header = (name) => signed.headers.find((h) => h.name === name)?.value;
  assert.ok(header('x-ms-date'), 'dated');
  const expected = createHmac('sha256', Buffer.from(ACCOUNT_KEY, 'base64'))
    .update(sharedKeyStringToSign(signed, 3, 'devstoreaccount1')).digest('base64');
  assert.equal(header('authorization'), `SharedKey devstoreaccount1:${expected}`);
  assert.ok(!JSON.stringify(signed).includes(ACCOUNT_KEY));
  // A refused signature cannot be renewed, and the explanation names no key.
  assert.throws(() => auth.refresh(1n), (e) => e.tag === 'rejected' && !e.val.includes(ACCOUNT_KEY));
  assert.throws(() => sharedKeyCredential({ accountName: 'a', key: 'not base64!' }), /not base64/);
});

test('a SAS is appended to the query, and an expired one is refused before any request', () => {
  const token = '?sv=2023-11-03&se=2999-01-01T00%3A00%3A00Z&sp=racwdl&sr=c&sig=abc%3D';
  const { auth, authorize } = sasCredential({ token });
  assert.equal(auth.ready(), 1n);
  const sent = authorize(request('http://127.0.0.1:8080/acct/fs/a.csv?action=append&position=0'));
  assert.equal(sent.url, 'http://127.0.0.1:8080/acct/fs/a.csv?action=append&position=0&' + token.slice(1));
  const bare = authorize(request('http://127.0.0.1:8080/acct/fs'));
  assert.equal(bare.url, 'http://127.0.0.1:8080/acct/fs?' + token.slice(1));
  assert.throws(() => sasCredential({ token: 'sv=1&se=2001-01-01T00:00:00Z&sig=x' }), (e) => e.tag === 'rejected' && /expired/.test(e.val));
  assert.throws(() => sasCredential({ token: 'sv=1&se=2999-01-01T00:00:00Z' }), /signature/);
});
