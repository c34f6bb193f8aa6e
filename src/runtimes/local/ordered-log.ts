/**
 * The reading side of a step's ordered log (python/cellpipe_runtime/ordered.py): with {@link ORDERED_LOG_ENV} set,
 * the step runtime writes what goes through Python's `sys.stderr` to stdout, each line after {@link STDERR_MARK}, so
 * stdout and stderr reach the log in the order the step wrote them (two pipes read side by side cannot promise
 * that). This gives each line of the stdout pipe its stream back.
 */
/** Set to `1` in a step's environment: the runtime sends stderr's lines through stdout, marked. */
export const ORDERED_LOG_ENV = 'CELLPIPE_ORDERED_LOG';

/** Starts a stderr line on stdout (ordered.py's MARK). */
export const STDERR_MARK = '\x1estderr\x1e';

/**
 * One line read from a step's stdout pipe as the log lines it holds: itself (stdout), or the stderr line after the
 * mark — with the stdout text before it, when stdout had written part of a line (no line end) just before.
 */
export function demuxStdoutLine(text: string): { stream: 'stdout' | 'stderr'; text: string }[] {
  const at = text.indexOf(STDERR_MARK);
  if (at < 0) return [{ stream: 'stdout', text }];
  const err = { stream: 'stderr' as const, text: text.slice(at + STDERR_MARK.length) };
  return at === 0 ? [err] : [{ stream: 'stdout', text: text.slice(0, at) }, err];
}
