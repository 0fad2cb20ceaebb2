// The `adls:writeback/http` import: requests only to the granted origin (the job's DFS
// endpoint), sent by the worker thread; `send-all` runs its batch concurrently there.

/** Longest a request may take, as in the Rust host. */
export const REQUEST_TIMEOUT_MS = 300_000;

/**
 * The http interface for a job that may reach `allowedOrigin` only, with at most
 * `maxInFlight` requests of a `send-all` at once, over the BlockingWorker `worker`.
 */
export function httpImport({ allowedOrigin, maxInFlight, worker }) {
  // The policy, checked before anything leaves the process. `URL.origin` is normalised
  // (lower-case host, default port dropped), so equal origins compare equal as strings.
  const check = (url) => {
    let origin;
    try {
      origin = new URL(url).origin;
    } catch {
      return { tag: 'invalid-request', val: `bad URL \`${url}\`` };
    }
    if (origin !== allowedOrigin) {
      return {
        tag: 'denied',
        val: `${origin} is not an origin this job grants (granted: ${allowedOrigin})`,
      };
    }
    return null;
  };

  // Sends the allowed requests in one worker call; denied ones never leave.
  const sendBatch = (requests) => {
    const outcomes = requests.map((r) => {
      const refusal = check(r.url);
      return refusal && { tag: 'err', val: refusal };
    });
    const allowed = requests.filter((_, i) => !outcomes[i]);
    if (allowed.length > 0) {
      let answered;
      try {
        // A margin over the per-request timeout, so the worker's own timeout fires first.
        const waitMs = REQUEST_TIMEOUT_MS * Math.ceil(allowed.length / maxInFlight) + 5_000;
        answered = worker.call(
          { requests: allowed, limit: maxInFlight, timeoutMs: REQUEST_TIMEOUT_MS },
          waitMs,
        ).outcomes;
      } catch (e) {
        answered = allowed.map(() => ({ tag: 'err', val: { tag: 'timeout', val: e.message } }));
      }
      let j = 0;
      for (let i = 0; i < outcomes.length; i++) outcomes[i] ??= answered[j++];
    }
    return outcomes;
  };

  return {
    // `result<response, http-error>`: jco takes the return value as `ok`, and a thrown
    // plain object (not an Error) as the `err` payload.
    send(request) {
      const [outcome] = sendBatch([request]);
      if (outcome.tag === 'err') throw outcome.val;
      return outcome.val;
    },
    // `list<result<...>>`: one outcome per request, in request order.
    sendAll(requests) {
      return sendBatch(requests);
    },
  };
}
