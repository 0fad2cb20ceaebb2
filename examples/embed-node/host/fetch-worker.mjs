// The worker behind BlockingWorker: performs HTTP requests with `fetch`.
//
// - `{ id, requests, limit, timeoutMs }`: a batch, at most `limit` at once, answered with one
//   outcome per request, in request order (`send` and the token endpoint use it).
// - `{ pipeline, ticket, request, limit, timeoutMs }`: one request of a pipeline, started at
//   once unless `limit` of that pipeline are running (then queued), answered on its own as
//   `{ pipeline, ticket, outcome }` when it finishes.

import { workerData, parentPort } from 'node:worker_threads';

const { flag, port } = workerData;

// Framing headers are fetch's business (it sets Content-Length from the body).
const FRAMING = new Set(['host', 'content-length', 'transfer-encoding', 'connection']);

/** Requests running and waiting, per pipeline id. */
const pipelines = new Map();

parentPort.on('message', async (message) => {
  if (message.pipeline !== undefined) {
    startInPipeline(message);
    return;
  }
  const { id, requests, limit, timeoutMs } = message;
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
  reply({ id, outcomes }, bodies);
});

function startInPipeline({ pipeline, ticket, request, limit, timeoutMs }) {
  let state = pipelines.get(pipeline);
  if (!state) pipelines.set(pipeline, (state = { running: 0, waiting: [] }));
  state.waiting.push({ ticket, request, timeoutMs });
  const pump = () => {
    while (state.running < Math.max(1, limit) && state.waiting.length > 0) {
      const job = state.waiting.shift();
      state.running++;
      sendOne(job.request, job.timeoutMs).then((outcome) => {
        state.running--;
        const bodies = outcome.tag === 'ok' ? [outcome.val.body.buffer] : [];
        reply({ pipeline, ticket: job.ticket, outcome }, bodies);
        pump();
      });
    }
  };
  pump();
}

function reply(message, transfer) {
  port.postMessage(message, transfer);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

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
