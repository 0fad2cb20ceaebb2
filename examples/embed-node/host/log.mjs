// The `adls:writeback/log` import: messages to stderr (stdout is for the report), bounded
// as in the Rust host so a guest cannot flood or forge the log.

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
/** Longest message kept; a longer one is cut. */
const MAX_MESSAGE = 4096;
/** Most lines one run may write; later ones are counted and dropped. */
const MAX_LINES = 10_000;

/** The log interface for job `job`, showing levels from `minLevel` up. */
export function logImport({ job, minLevel = 'info' }) {
  const shown = (level) => LEVELS.indexOf(level) >= LEVELS.indexOf(minLevel);
  let lines = 0;
  let dropped = 0;
  process.once('exit', () => {
    if (dropped) console.error(`WARN  ${job}: ${dropped} more log lines from the component were dropped`);
  });
  return {
    log(level, message) {
      if (++lines > MAX_LINES) return void dropped++;
      if (!shown(level)) return;
      let text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)} [cut]` : message;
      // Guest text is data: no terminal escapes, no line breaks that fake another entry.
      text = text.replace(/\p{Cc}/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);
      console.error(`${level.toUpperCase().padEnd(5)} ${job}: ${text}`);
    },
    progress(rows, bytes) {
      if (shown('debug')) console.error(`DEBUG ${job}: progress: ${rows} rows, ${bytes} bytes`);
    },
  };
}
