// The `adls:writeback/source` import for a local CSV file: the guest may describe and read
// that one dataset, and never learns its path.

import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';

/** The most a single read returns, whatever the guest asks (as in the Rust host). */
const MAX_READ = 16 << 20;
// jco calls this method when the guest drops a resource handle.
const dispose = Symbol.dispose ?? Symbol.for('dispose');

/**
 * The source interface serving the CSV at `path` as dataset `datasetId`; `Body` is the http
 * import's body class, for the bodies `take` hands out.
 */
export function localFileSource({ path, datasetId, Body }) {
  const granted = (dataset) => {
    if (dataset.kind !== 'local-file' || dataset.id !== datasetId) {
      throw { tag: 'not-granted', val: `dataset \`${dataset.id}\` is not the one this job names` };
    }
  };

  // The `reader` resource: jco hands the guest a handle to an instance of this class.
  class Reader {
    #fd;
    /** What `readKept` kept and `take` has not taken yet, oldest first. */
    #kept = [];
    #keptBytes = 0;
    constructor(fd) {
      this.#fd = fd;
    }
    /** As `read`, and the bytes are kept for `take`: they never cross back from the guest. */
    readKept(maxBytes) {
      const bytes = this.read(maxBytes);
      if (bytes.length > 0) {
        this.#kept.push(bytes);
        this.#keptBytes += bytes.length;
      }
      return bytes;
    }
    /** The next `length` kept bytes as one body. */
    take(length) {
      const n = Number(length);
      if (n > this.#keptBytes) {
        throw new Error(`the guest took ${n} bytes of a reader that keeps ${this.#keptBytes}`);
      }
      const out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const first = this.#kept[0];
        const used = Math.min(first.length, n - at);
        out.set(first.subarray(0, used), at);
        at += used;
        if (used === first.length) this.#kept.shift();
        else this.#kept[0] = first.subarray(used);
      }
      this.#keptBytes -= n;
      return new Body(new Uint8Array(out.buffer, out.byteOffset, n));
    }
    read(maxBytes) {
      const buffer = Buffer.alloc(Math.min(Math.max(maxBytes, 1), MAX_READ));
      let n;
      try {
        n = readSync(this.#fd, buffer, 0, buffer.length, null);
      } catch (e) {
        throw { tag: 'unavailable', val: `reading the file: ${e.message}` };
      }
      return new Uint8Array(buffer.buffer, buffer.byteOffset, n); // empty = end of data
    }
    [dispose]() {
      closeSync(this.#fd);
    }
  }

  return {
    Reader,
    describe(dataset) {
      granted(dataset);
      if (!existsSync(path) || !statSync(path).isFile()) {
        throw { tag: 'not-found', val: `no such file \`${path}\`` };
      }
      // Owners, as the Rust host reads them: from `data.json` beside `data.csv`, if any.
      const metaPath = path.replace(/\.[^./]*$/, '') + '.json';
      let meta = {};
      if (existsSync(metaPath)) {
        try {
          meta = JSON.parse(readFileSync(metaPath, 'utf8'));
        } catch (e) {
          throw { tag: 'unavailable', val: `metadata file \`${metaPath}\` is not valid: ${e.message}` };
        }
      }
      const principal = (user) => ({ id: String(user.id), name: user.name ?? '' });
      return {
        id: datasetId,
        name: meta.name ?? datasetId,
        owner: meta.owner ? principal(meta.owner) : undefined,
        coOwners: (meta.coOwners ?? []).map(principal),
        requester: undefined, // a local file acts as nobody
        columns: [],
        rows: undefined,
      };
    },
    open(dataset) {
      granted(dataset);
      try {
        return new Reader(openSync(path, 'r'));
      } catch (e) {
        throw { tag: 'not-found', val: `cannot open \`${path}\`: ${e.message}` };
      }
    },
  };
}
