/**
 * Argument parsing for every sub-command, on Node's own `util.parseArgs`, with errors that say what went wrong.
 */
import { parseArgs as nodeParseArgs } from 'node:util';

export class UsageError extends Error {}

export interface OptionSpec {
  short?: string;
  /** Takes a value (`--param X=1`); otherwise a boolean flag. */
  value?: boolean;
  /** May be given several times (values collected in a list). */
  multiple?: boolean;
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseArgs(argv: string[], options: Record<string, OptionSpec>): ParsedArgs {
  const config = Object.fromEntries(Object.entries(options).map(([name, o]) => [name, {
    type: o.value ? ('string' as const) : ('boolean' as const),
    ...(o.short ? { short: o.short } : {}),
    ...(o.multiple ? { multiple: true } : {}),
  }]));
  try {
    const { values, positionals } = nodeParseArgs({ args: argv, options: config, allowPositionals: true, strict: true });
    return { flags: values as ParsedArgs['flags'], positionals };
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

/** `NAME=VALUE` pairs from repeated options (e.g. `--param`). */
export function keyValues(values: string | boolean | string[] | undefined, option: string): [string, string][] {
  const list = Array.isArray(values) ? values : typeof values === 'string' ? [values] : [];
  return list.map((item) => {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${option} ${item}: expected NAME=VALUE`);
    return [item.slice(0, eq), item.slice(eq + 1)];
  });
}
