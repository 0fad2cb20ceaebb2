// The `adls:writeback/http` import: requests only to the granted origin (the job's DFS
// endpoint), sent by the worker thread. `send` waits for its answer; a `pipeline` starts
// requests in the worker and hands back whichever finishes first.

/** Longest a request may take, as in the Rust host. */
export const REQUEST_TIMEOUT_MS = 300_000;

/**
 * The http interface for a job that may reach `allowedOrigin` only, with at most
 * `maxInFlight` requests of a pipeline at once, over the BlockingWorker `worker`; each
 * request that passes the policy goes out as `authorize(request, bodyLength)` returns it
 * (with the storage credential, which the guest never sees).
 */
export function httpImport({ allowedOrigin, maxInFlight, worker, authorize = (r) => r }) {
  // The policy, checked before anything leaves the process. `URL.origin` is normalised
  // (lower-case host, default port dropped), so equal origins compare equal as strings.
  const check = (url, headers = []) => {
    if (headers.some((h) => h.name.toLowerCase() === 'authorization')) {
      return {
        tag: 'invalid-request',
        val: 'the request sets `Authorization`: the host authorizes requests itself, and the component never holds a credential',
      };
    }
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

  /** A request body the host holds (`http.body`): the guest hands its bytes over once. */
  class Body {
    constructor(bytes) {
      this.bytes = bytes;
    }

    length() {
      return BigInt(this.bytes.length);
    }
  }

  let pipelines = 0;

  /** Requests in flight in the worker (`http.pipeline`). */
  class Pipeline {
    #id = ++pipelines;
    #limit;
    #nextTicket = 0n;
    #inFlight = 0;
    /** Completions known before `next` asked (a denied request completes at once). */
    #ready = [];

    constructor(maxInFlightWanted) {
      this.#limit = Math.max(1, Math.min(Number(maxInFlightWanted), maxInFlight));
    }

    submit(head, body) {
      const ticket = ++this.#nextTicket;
      this.#inFlight++;
      const refusal = check(head.url, head.headers);
      let authorized;
      try {
        authorized = refusal ? null : authorize(head, body.bytes.length);
      } catch (e) {
        this.#ready.push({ ticket, outcome: { tag: 'err', val: { tag: 'credential', val: e } } });
        return ticket;
      }
      if (refusal) {
        this.#ready.push({ ticket, outcome: { tag: 'err', val: refusal } });
      } else {
        worker.post({
          pipeline: this.#id,
          ticket,
          request: { ...authorized, body: body.bytes },
          limit: this.#limit,
          timeoutMs: REQUEST_TIMEOUT_MS,
        });
      }
      return ticket;
    }

    next() {
      if (this.#inFlight === 0) return undefined;
      let done = this.#ready.shift();
      if (!done) {
        // A margin over the per-request timeout, so the worker's own timeout fires first.
        // Requests wait for a free lane, so the longest wait is every lane's turn.
        const waitMs = REQUEST_TIMEOUT_MS * Math.ceil(this.#inFlight / this.#limit) + 5_000;
        const reply = worker.receive((m) => m.pipeline === this.#id, waitMs);
        done = { ticket: reply.ticket, outcome: reply.outcome };
      }
      this.#inFlight--;
      return done;
    }
  }

  return {
    // `result<response, http-error>`: jco takes the return value as `ok`, and a thrown
    // plain object (not an Error) as the `err` payload.
    send(request) {
      const refusal = check(request.url, request.headers);
      if (refusal) throw refusal;
      let authorized;
      try {
        authorized = authorize(request, request.body?.length ?? 0);
      } catch (e) {
        throw { tag: 'credential', val: e };
      }
      let outcome;
      try {
        const waitMs = REQUEST_TIMEOUT_MS + 5_000;
        [outcome] = worker.call(
          { requests: [authorized], limit: 1, timeoutMs: REQUEST_TIMEOUT_MS },
          waitMs,
        ).outcomes;
      } catch (e) {
        throw { tag: 'timeout', val: e.message };
      }
      if (outcome.tag === 'err') throw outcome.val;
      return outcome.val;
    },
    Body,
    Pipeline,
  };
}
