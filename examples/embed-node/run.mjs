#!/usr/bin/env node
// A Node.js host for the adls-writeback guest component: exports a local CSV file into an
// ADLS Gen2 file system, with the same component and the same policy as the Rust host.
//
//   AZURE_CLIENT_SECRET=... node run.mjs --component guest.wasm \
//     --dfs-endpoint http://127.0.0.1:10004/devstoreaccount1 --authority-host http://127.0.0.1:10005 \
//     --tenant-id T --client-id C --account devstoreaccount1 --container data --csv data.csv
//
// `node run.mjs --help` lists every option. See README.md and ../../docs/embedding.md.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { sasCredential, sharedKeyCredential, storageCredential } from './host/auth.mjs';
import { BlockingWorker } from './host/blocking.mjs';
import { digestImport } from './host/digest.mjs';
import { httpImport } from './host/http.mjs';
import { logImport } from './host/log.mjs';
import { localFileSource } from './host/source.mjs';
import { transpiled } from './host/transpile.mjs';
import { wasiImports } from './host/wasi.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const DEFAULT_COMPONENT = join(HERE, '../../target/guest/wasm32-wasip2/guest/adls_writeback_guest.wasm');

const OPTIONS = {
  component: { type: 'string', default: DEFAULT_COMPONENT, help: 'the guest component (.wasm)' },
  'dfs-endpoint': { type: 'string', help: 'https://ACCOUNT.dfs.core.windows.net, or http://127.0.0.1:PORT/ACCOUNT on the emulator' },
  'authority-host': { type: 'string', default: 'https://login.microsoftonline.com', help: 'Entra ID authority' },
  'tenant-id': { type: 'string', help: 'directory (tenant) ID' },
  'client-id': { type: 'string', help: 'application (client) ID' },
  auth: { type: 'string', default: 'client-secret', help: 'client-secret, shared-key (the account key) or sas' },
  'secret-env': { type: 'string', help: 'environment variable holding the secret [AZURE_CLIENT_SECRET, AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN, by --auth]' },
  'client-secret-env': { type: 'string', help: 'the same as --secret-env, for --auth client-secret' },
  account: { type: 'string', help: 'storage account name' },
  container: { type: 'string', help: 'container (file system) of the credentials' },
  'file-system': { type: 'string', help: 'file system to write to (default: the container)' },
  csv: { type: 'string', help: 'the local CSV file to export' },
  'dataset-id': { type: 'string', help: "the dataset's name (default: the CSV file's stem)" },
  directory: { type: 'string', help: 'directory inside the file system (default: its root)' },
  'file-name': { type: 'string', help: 'output file name (default: <dataset id>.csv)' },
  owner: { type: 'string', help: 'the owner this job asserts (a local file with owners in a .json beside it needs one)' },
  append: { type: 'boolean', default: false, help: 'append rows instead of replacing the file' },
  'block-size': { type: 'string', default: String(4 << 20), help: 'bytes per append request' },
  concurrency: { type: 'string', default: '4', help: 'append requests in flight at once' },
  'allow-empty': { type: 'boolean', default: false, help: 'write a dataset with a header but no rows instead of failing' },
  strict: { type: 'boolean', default: false, help: "fail on a record whose field count differs from the header's" },
  name: { type: 'string', default: 'embed-node', help: 'job name, for messages' },
  json: { type: 'boolean', default: false, help: 'print the report as JSON' },
  verbose: { type: 'boolean', default: false, help: 'show debug messages and progress' },
  wit: { type: 'boolean', default: false, help: "print the component's imports and exports (WIT) and exit" },
  help: { type: 'boolean', default: false },
};

/** The credential kinds this host offers, as `--auth` names them. */
const CREDENTIAL_KINDS = {
  'client-secret': {
    env: 'AZURE_CLIENT_SECRET',
    secret: 'client secret',
    identity: (a) => `the app ${a['client-id']} in tenant ${a['tenant-id']}`,
    credential: (a, secret, worker) => storageCredential({
      authorityHost: a['authority-host'], tenantId: a['tenant-id'], clientId: a['client-id'], secret, worker,
    }),
  },
  'shared-key': {
    env: 'AZURE_STORAGE_KEY',
    secret: 'account key',
    identity: (a) => `the account key of \`${a.account}\``,
    credential: (a, key) => sharedKeyCredential({ accountName: a.account, key }),
  },
  sas: {
    env: 'AZURE_STORAGE_SAS_TOKEN',
    secret: 'SAS token',
    identity: (a) => `the SAS for \`${a.account}\``,
    credential: (_, token) => sasCredential({ token }),
  },
};

const EXIT_FAILED = 1;
const EXIT_INVALID = 2;

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`error: ${e.message}`);
    process.exit(EXIT_INVALID);
  },
);

async function main() {
  const { values: args } = parseArgs({ options: OPTIONS, strict: true });
  if (args.help) {
    console.log('usage: node run.mjs [options]\n');
    for (const [name, o] of Object.entries(OPTIONS)) {
      if (o.help) console.log(`  --${name.padEnd(18)} ${o.help}${o.default !== undefined && o.type === 'string' ? ` [${o.default}]` : ''}`);
    }
    return 0;
  }
  if (args.wit) {
    // Audit before running: what the component imports (what it could ask of us) and exports.
    const { componentWit } = await import('@bytecodealliance/jco');
    console.log(await componentWit(readFileSync(args.component)));
    return 0;
  }
  const kind = CREDENTIAL_KINDS[args.auth];
  if (!kind) throw new Error(`--auth ${args.auth} is not a credential kind: use ${Object.keys(CREDENTIAL_KINDS).join(', ')}`);
  const required = ['dfs-endpoint', 'account', 'container', 'csv', ...(args.auth === 'client-secret' ? ['tenant-id', 'client-id'] : [])];
  const missing = required.filter((k) => !args[k]);
  if (missing.length) throw new Error(`missing ${missing.map((k) => `--${k}`).join(', ')} (see --help)`);

  // The secret: read once, then removed from our environment. It is never printed.
  const secretEnv = args['secret-env'] ?? args['client-secret-env'] ?? kind.env;
  const secret = process.env[secretEnv];
  if (!secret) throw new Error(`set the ${kind.secret} in $${secretEnv}`);
  delete process.env[secretEnv];

  // As in the Rust host: endpoints are https, or plain http on loopback (an emulator).
  for (const key of ['dfs-endpoint', 'authority-host']) checkEndpoint(key, args[key]);
  const allowedOrigin = new URL(args['dfs-endpoint']).origin;
  const datasetId = args['dataset-id'] ?? basename(args.csv, extname(args.csv));
  const concurrency = Number(args.concurrency);

  const job = {
    name: args.name,
    account: {
      // No credential: the guest learns only its kind and who it acts as, for messages.
      credential: args.auth,
      identity: kind.identity(args),
      accountName: args.account,
      container: args.container,
      dfsEndpoint: args['dfs-endpoint'].replace(/\/+$/, ''),
      // This host grants the DFS origin only, so it writes through DFS.
      blobEndpoint: args['dfs-endpoint'].replace(/\/+$/, ''),
      endpoint: 'dfs',
    },
    dataset: { kind: 'local-file', id: datasetId },
    output: {
      fileSystem: args['file-system'],
      directory: args.directory,
      naming: args['file-name'] ? { tag: 'file-name', val: args['file-name'] } : { tag: 'dataset-id' },
      update: args.append ? 'append' : 'replace',
      blockSize: Number(args['block-size']),
      concurrency,
      allowEmpty: Boolean(args['allow-empty']),
      strict: Boolean(args.strict),
      // The plain CSV file: no other format, dialect, parts or manifest.
      format: 'csv',
      dialect: { delimiter: 44, header: true, quoteAll: false, bom: undefined },
      parquet: { rowGroupRows: 100000, compression: 'snappy' },
      split: { maxRows: undefined, maxBytes: undefined },
      manifest: false,
      successMarker: false,
      utcOffsetMinutes: 0,
      // The service's default permissions and the parent directory's default ACL.
      access: { permissions: undefined, umask: undefined, acl: undefined },
    },
    owner: args.owner,
    runId: newRunId(),
    startedAtMs: BigInt(Date.now()), // the guest has no clock
  };

  const { dir, sha256 } = await transpiled(args.component, join(HERE, 'generated'));
  const { instantiate } = await import(pathToFileURL(join(dir, 'writeback.js')));

  // One worker serves both HTTP and the token endpoint; it lives as long as the run.
  const worker = new BlockingWorker(new URL('./host/fetch-worker.mjs', import.meta.url));
  // The credential stays in this process: http adds it to each request after its policy
  // check, and the guest's auth import only sees a generation number.
  const credential = kind.credential(args, secret, worker);
  const http = httpImport({
    allowedOrigin,
    maxInFlight: Math.max(1, concurrency),
    worker,
    authorize: credential.authorize,
  });
  const imports = {
    ...wasiImports,
    'adls:writeback/types': {},
    'adls:writeback/errors': {},
    'adls:writeback/http': http,
    'adls:writeback/digest': digestImport(),
    'adls:writeback/auth': credential.auth,
    'adls:writeback/source': localFileSource({ path: args.csv, datasetId, Body: http.Body }),
    'adls:writeback/log': logImport({ job: args.name, minLevel: args.verbose ? 'debug' : 'info' }),
  };
  const getCoreModule = (path) => new WebAssembly.Module(readFileSync(join(dir, path)));

  const started = Date.now();
  // Validation makes no imported calls, but give it its own instance, as the Rust host does.
  const problems = instantiate(getCoreModule, imports).job.validate(job);
  const meta = { job: args.name, run_id: job.runId, component_sha256: sha256 };
  if (problems.length) {
    const message = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    return fail({ ...meta, kind: 'invalid', message: `the job is invalid: ${message}`, fields: problems }, args.json, EXIT_INVALID);
  }
  let report;
  try {
    // A fresh instance per run: a trapped instance is dead.
    report = instantiate(getCoreModule, imports).job.run(job);
  } catch (e) {
    // jco throws a `result`'s err as a ComponentError whose `payload` is the job-error variant;
    // anything else is a trap (or a bug in this host).
    const [kind, message] = e.payload ? describeJobError(e.payload) : ['sandbox', String(e)];
    return fail({ ...meta, kind, message, elapsed_ms: Date.now() - started }, args.json, EXIT_FAILED);
  } finally {
    await worker.terminate();
  }
  const [ownership, ownershipDetail] = {
    owner: ['owner', report.ownership.val?.id],
    'co-owner': ['co-owner', report.ownership.val?.id],
    'not-applicable': ['not-applicable', report.ownership.val],
  }[report.ownership.tag];
  const out = {
    status: 'succeeded',
    job: meta.job,
    run_id: meta.run_id,
    dataset_id: datasetId,
    dataset_name: report.datasetName,
    file_system: report.fileSystem,
    path: report.path,
    url: report.url,
    endpoint: report.endpoint,
    update: report.update,
    rows: Number(report.rows),
    bytes: Number(report.bytes),
    file_size: Number(report.fileSize),
    md5: report.md5,
    sha256: report.sha256,
    blocks: report.blocks,
    ownership,
    ownership_detail: ownershipDetail,
    elapsed_ms: Date.now() - started,
    component_sha256: sha256,
  };
  if (args.json) {
    console.log(JSON.stringify(out, null, 2));
  } else {
    console.log(`wrote ${out.url}\n  rows ${out.rows}, bytes ${out.bytes}, blocks ${out.blocks}, md5 ${out.md5}, sha256 ${out.sha256}\n  ownership ${ownership} (${ownershipDetail})`);
  }
  return 0;
}

function fail(failure, json, code) {
  if (json) console.log(JSON.stringify({ status: 'failed', ...failure }, null, 2));
  else console.error(`error (${failure.kind}): ${failure.message}`);
  return code;
}

/** `[kind, message]` of a job-error variant (`{ tag, val }` in jco's mapping). */
function describeJobError({ tag, val }) {
  switch (tag) {
    case 'invalid':
      return [tag, `the job is invalid: ${val.map((p) => `${p.field}: ${p.message}`).join('; ')}`];
    case 'ownership':
      return [tag, val];
    case 'storage':
      return [tag, `${val.operation} failed: ${val.code} (${val.status}): ${val.message}`];
    case 'data':
      return [tag, `bad CSV at line ${val.line} (byte ${val.byteOffset}): ${val.message}`];
    default: // source, auth, http: each an error variant with a message
      return [tag, `${val.tag}: ${val.val}`];
  }
}

function checkEndpoint(option, value) {
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`--${option}: \`${value}\` is not a URL`);
  }
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) {
    throw new Error(`--${option}: \`${value}\` must be https (plain http only on loopback)`);
  }
}

/** A run ID like the Rust host's: `20261128T224100Z-1a2b3c4d`. */
function newRunId() {
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}
