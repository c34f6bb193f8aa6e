/**
 * `cellpipe` command line: one sub-command per file in ./commands, loaded on demand so that
 * `cellpipe compile` never pays for the Kubernetes client or the registry code.
 */
export interface CommandIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** A sub-command: gets its own argv (after the command name), returns the exit code. */
export type Command = (args: string[], io: CommandIO) => Promise<number>;

const COMMANDS: Record<string, string> = {
  compile: 'compile a notebook to a Kubeflow pipeline spec (or --graph: the step graph as JSON)',
  run: 'run the pipeline on this machine',
  runs: 'list runs',
  status: 'show a run',
  logs: 'print (or --follow) a step\'s log',
  cancel: 'cancel a run',
  export: 'write a run\'s executed notebook: each cell with its outputs from that run',
  compare: 'runs side by side: parameters, metrics, each step\'s state and duration, differences marked',
  build: 'build and push every step\'s image',
  submit: 'build, upload and run on Kubeflow Pipelines',
  schedule: 'run a notebook on Kubeflow Pipelines on a cron schedule (or pause|resume|delete one)',
  schedules: 'list Kubeflow Pipelines schedules with their next run',
  doctor: 'check the cluster set-up (every profile, or --profile NAME): API, namespace, permissions, registry',
  serve: 'start the backend HTTP server (used by the JupyterLab extension)',
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: cellpipe <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([name, what]) => `  ${name.padEnd(width)}  ${what}`),
    '',
    'cellpipe <command> --help shows the options of a command.',
  ].join('\n');
}

export async function main(argv: string[], io: CommandIO = defaultIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? io.stdout : io.stderr).write(usage() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`cellpipe ${await version()}\n`);
    return 0;
  }
  if (!(name in COMMANDS)) {
    io.stderr.write(`cellpipe: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  let mod: { default: Command };
  try {
    mod = await import(`./commands/${name}.js`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      io.stderr.write(`cellpipe: '${name}' is not available in this build\n`);
      return 2;
    }
    throw err;
  }
  return mod.default(rest, io);
}

function defaultIO(): CommandIO {
  return { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env };
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
  return pkg.version as string;
}
