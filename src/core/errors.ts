/**
 * The one base of cellpipe's errors: what went wrong (`message`) and, when there is something to do about it, what
 * (`hint`). Every layer's errors extend it under a name of their own, so a caller that only shows errors (the CLI,
 * the backend's error body) reads `hint` the same way from any of them. Pure: no I/O, usable in the page too.
 */
export class CellpipeError extends Error {
  readonly hint?: string;

  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, options);
    // The subclass's own name (`PartialRunError`, `TargetError` …), as stack traces and logs show it.
    this.name = new.target.name;
    if (hint !== undefined) this.hint = hint;
  }
}

/** The hint of any error that has one (a CellpipeError, or an error of a library that sets `hint` too). */
export function hintOf(err: unknown): string | undefined {
  const hint = (err as { hint?: unknown } | null | undefined)?.hint;
  return typeof hint === 'string' && hint ? hint : undefined;
}
