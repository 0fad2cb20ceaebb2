// The worker behind BlockingWorker: performs batches of HTTP requests with `fetch`,
// at most `limit` at once, and answers with one outcome per request, in request order.

import { workerData, parentPort } from 'node:worker_threads';

const { flag, port } = workerData;

// Framing headers are fetch's business (it sets Content-Length from the body).
const FRAMING = new Set(['host', 'content-length', 'transfer-encoding', 'connection']);

parentPort.on('message', async ({ id, requests, limit, timeoutMs }) => {
  const outcomes = new Array(requests.length);
  let next = 0;
  // `limit` lanes, each taking the next request until none is left.
  const lane = async () => {
    while (next < requests.length) {
      const i = next++;
      outcomes[i] = await sendOne(requests[i], timeoutMs);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, requests.length)) }, lane));
  const bodies = outcomes.filter((o) => o.tag === 'ok').map((o) => o.val.body.buffer);
  port.postMessage({ id, outcomes }, bodies);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});

/** One request, as a WIT `result<response, http-error>` in jco's shape. */
async function sendOne(request, timeoutMs) {
  const method = request.method.toUpperCase(); // fetch does not upper-case PATCH itself
  const headers = new Headers();
  try {
    for (const { name, value } of request.headers) {
      if (!FRAMING.has(name.toLowerCase())) headers.append(name, value);
    }
  } catch (e) {
    return err('invalid-request', `bad header: ${e.message}`);
  }
  try {
    const response = await fetch(request.url, {
      method,
      headers,
      body: method === 'GET' || method === 'HEAD' ? undefined : request.body,
      redirect: 'manual', // a redirect could lead outside the granted origin
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = new Uint8Array(await response.arrayBuffer());
    return {
      tag: 'ok',
      val: {
        status: response.status,
        headers: [...response.headers].map(([name, value]) => ({ name, value })),
        body,
      },
    };
  } catch (e) {
    if (e.name === 'TimeoutError') return err('timeout', `no response within ${timeoutMs} ms`);
    // undici reports network failures as `TypeError: fetch failed` with the cause inside.
    if (e.message === 'fetch failed') {
      return err('connection', e.cause ? `${e.message}: ${e.cause.message ?? e.cause}` : e.message);
    }
    return err('invalid-request', e.message);
  }
}

function err(tag, val) {
  return { tag: 'err', val: { tag, val } };
}
