/**
 * Argument parsing for every sub-command, on Node's own `util.parseArgs`, with errors that say what went wrong.
 */
import { parseArgs as nodeParseArgs } from 'node:util';
import { CellpipeError } from '../core/errors.js';

export class UsageError extends CellpipeError {}

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

/**
 * A sub-command's arguments, or the exit code to return at once: 0 after printing `usage` for `--help`, 2 after
 * printing a usage error. `positionals` says how many positional arguments the command takes.
 */
export function commandArgs(
  command: string,
  argv: string[],
  options: Record<string, OptionSpec>,
  usage: string,
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
  positionals: { exactly: number; what: string } | { min: number; what: string },
): ParsedArgs | number {
  try {
    const args = parseArgs(argv, { ...options, help: { short: 'h' } });
    if (args.flags.help) {
      io.stdout.write(usage + '\n');
      return 0;
    }
    if ('min' in positionals) {
      if (args.positionals.length < positionals.min) throw new UsageError(`give ${positionals.what}`);
    } else if (args.positionals.length !== positionals.exactly) {
      throw new UsageError(positionals.exactly === 0 ? `unexpected argument '${args.positionals[0]}'` : `give exactly ${positionals.what}`);
    }
    return args;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`cellpipe ${command}: ${err.message}\n${usage}\n`);
      return 2;
    }
    throw err;
  }
}
