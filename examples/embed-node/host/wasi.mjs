// WASI for the guest. Rust's std on wasm32-wasip2 imports stdio, environment, exit and the
// io streams behind them, and the insecure seed its `HashMap`s start from (the Parquet
// writer's); see `npx jco wit COMPONENT`. The guest imports no filesystem, sockets or
// clocks. As in the Rust host, grant nothing through them: an empty environment (the client
// secret may sit in ours), no arguments; the seed is random bytes, which grant nothing.
// Stdio comes from preview2-shim, so a guest panic message still reaches stderr.

import { cli, io, random } from '@bytecodealliance/preview2-shim';

export const wasiImports = {
  'wasi:cli/environment': {
    getEnvironment: () => [],
    getArguments: () => [],
    initialCwd: () => undefined,
  },
  'wasi:cli/exit': cli.exit,
  'wasi:cli/stdin': cli.stdin,
  'wasi:cli/stdout': cli.stdout,
  'wasi:cli/stderr': cli.stderr,
  'wasi:cli/terminal-input': cli.terminalInput,
  'wasi:cli/terminal-output': cli.terminalOutput,
  'wasi:cli/terminal-stdin': cli.terminalStdin,
  'wasi:cli/terminal-stdout': cli.terminalStdout,
  'wasi:cli/terminal-stderr': cli.terminalStderr,
  'wasi:io/error': io.error,
  'wasi:io/poll': io.poll,
  'wasi:io/streams': io.streams,
  'wasi:random/insecure-seed': random.insecureSeed,
};
