// Transpiles the component with jco into `generated/<sha256 prefix>/`, once per component.
//
// `instantiation: 'sync'` makes jco emit an `instantiate(getCoreModule, imports)` function
// instead of a module that imports its capabilities by name: this host hands the guest
// each import explicitly, WASI included, and nothing else.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { transpile } from '@bytecodealliance/jco';

/** The folder holding the transpiled `componentPath`, and the component's SHA-256. */
export async function transpiled(componentPath, generatedDir) {
  const bytes = readFileSync(componentPath);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const dir = join(generatedDir, sha256.slice(0, 16));
  if (!existsSync(join(dir, 'writeback.js'))) {
    const { files } = await transpile(bytes, { name: 'writeback', instantiation: 'sync', quiet: true });
    // Write beside, then rename: a concurrent run never sees half a folder.
    const tmp = `${dir}.tmp-${process.pid}`;
    for (const [name, data] of Object.entries(files)) {
      mkdirSync(dirname(join(tmp, name)), { recursive: true });
      writeFileSync(join(tmp, name), data);
    }
    try {
      renameSync(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(join(dir, 'writeback.js'))) throw e;
    }
  }
  return { dir, sha256 };
}
