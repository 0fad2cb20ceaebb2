// A synchronous bridge to a worker thread that does asynchronous work (fetch).
//
// Why: the guest calls its imports synchronously, and Node 20 cannot suspend WebAssembly
// while a promise settles (no JSPI by default). So the main thread posts the work to a
// worker, blocks in `Atomics.wait` on a shared flag, and when the worker raises the flag,
// takes the reply off a MessagePort with `receiveMessageOnPort` (which needs no event loop).

import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';

export class BlockingWorker {
  #flag = new Int32Array(new SharedArrayBuffer(4));
  #port;
  #worker;
  #nextId = 1;

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
    Atomics.store(this.#flag, 0, 0);
    this.#worker.postMessage({ id, ...message });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.#flag, 0, 0, left) === 'timed-out') {
        throw new Error(`no answer from the HTTP worker within ${timeoutMs} ms`);
      }
      Atomics.store(this.#flag, 0, 0);
      // Skip a late reply to an earlier call that timed out.
      for (let reply; (reply = receiveMessageOnPort(this.#port)); ) {
        if (reply.message.id === id) return reply.message;
      }
    }
  }

  terminate() {
    return this.#worker.terminate();
  }
}
