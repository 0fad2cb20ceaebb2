// A synchronous bridge to a worker thread that does asynchronous work (fetch).
//
// Why: the guest calls its imports synchronously, and Node 20 cannot suspend WebAssembly
// while a promise settles (no JSPI by default). So the main thread posts the work to a
// worker, blocks in `Atomics.wait` on a shared flag, and when the worker raises the flag,
// takes the reply off a MessagePort with `receiveMessageOnPort` (which needs no event loop).
// Replies that arrive while the main thread waits for another one are kept, not lost: a
// pipeline's completions can come in while a token request is answered.

import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';

export class BlockingWorker {
  #flag = new Int32Array(new SharedArrayBuffer(4));
  #port;
  #worker;
  #nextId = 1;
  /** Replies received but not yet asked for. */
  #kept = [];

  /** Starts the worker module at `url`. */
  constructor(url) {
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.#worker = new Worker(url, {
      workerData: { flag: this.#flag, port: port2 },
      transferList: [port2],
    });
    // Neither keeps the process alive once the job is done.
    this.#worker.unref();
    this.#port.unref();
  }

  /** Sends `message` to the worker and blocks until it replies or `timeoutMs` passes. */
  call(message, timeoutMs) {
    const id = this.#nextId++;
    this.post({ id, ...message });
    return this.receive((reply) => reply.id === id, timeoutMs, 'the HTTP worker');
  }

  /** Sends `message` to the worker without waiting. */
  post(message) {
    this.#worker.postMessage(message);
  }

  /** Blocks until a reply that `wanted` accepts arrives (or was kept), or `timeoutMs` passes. */
  receive(wanted, timeoutMs, what = 'the HTTP worker') {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Lower the flag before looking, so a reply posted after the look still wakes us.
      Atomics.store(this.#flag, 0, 0);
      for (let reply; (reply = receiveMessageOnPort(this.#port)); ) this.#kept.push(reply.message);
      const at = this.#kept.findIndex(wanted);
      if (at >= 0) return this.#kept.splice(at, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.#flag, 0, 0, left) === 'timed-out') {
        throw new Error(`no answer from ${what} within ${timeoutMs} ms`);
      }
    }
  }

  terminate() {
    return this.#worker.terminate();
  }
}
