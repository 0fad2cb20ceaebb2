// The `adls:writeback/digest` import: MD5 and SHA-256 from node:crypto, and Azure Storage's
// CRC-64 (CRC-64/NVME), which node:crypto lacks, by a table.

import { createHash } from 'node:crypto';

// CRC-64/NVME: reflected polynomial 0x9A6C9329AC4BC9B5, initial value and final XOR all ones.
const POLY = 0x9a6c9329ac4bc9b5n;
const MASK = 0xffffffffffffffffn;
const TABLE = Array.from({ length: 256 }, (_, i) => {
  let crc = BigInt(i);
  for (let bit = 0; bit < 8; bit++) crc = crc & 1n ? (crc >> 1n) ^ POLY : crc >> 1n;
  return crc;
});

/** A running CRC-64 over byte arrays. */
class Crc64 {
  #crc = MASK;

  update(bytes) {
    let crc = this.#crc;
    for (const byte of bytes) crc = TABLE[Number((crc ^ BigInt(byte)) & 0xffn)] ^ (crc >> 8n);
    this.#crc = crc;
    return this;
  }

  /** The CRC so far, 8 bytes little-endian, as `x-ms-content-crc64` carries it (base64). */
  digest() {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, this.#crc ^ MASK, true);
    return out;
  }
}

/** A running digest of `algorithm` (`md5`, `sha256` or `crc64`). */
function running(algorithm) {
  if (algorithm === 'crc64') return new Crc64();
  const hash = createHash(algorithm);
  return {
    update(bytes) {
      hash.update(bytes);
      return this;
    },
    digest() {
      return new Uint8Array(hash.copy().digest());
    },
  };
}

/** The digest interface: `of-body` and the `hasher` resource. */
export function digestImport() {
  class Hasher {
    #state;

    constructor(algorithm) {
      this.#state = running(algorithm);
    }

    update(body) {
      this.#state.update(body.bytes);
    }

    finish() {
      return this.#state.digest();
    }
  }
  return {
    ofBody(algorithm, body) {
      return running(algorithm).update(body.bytes).digest();
    },
    Hasher,
  };
}
