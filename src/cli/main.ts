/**
 * `cellpipe` command line: one sub-command per file in ./commands, loaded on demand so that
 * `cellpipe compile` never pays for the Kubernetes client or the registry code. Each is a literal import, so the
 * wheel's bundle of the backend (scripts/bundle-backend.mjs) carries every command.
 */
import { CELLPIPE_VERSION } from '../core/version.generated.js';
import { registerContainerLeftovers } from '../runtimes/containers/leftovers.js';

export interface CommandIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** A sub-command: gets its own argv (after the command name), returns the exit code. */
export type Command = (args: string[], io: CommandIO) => Promise<number>;

type Loader = () => Promise<{ default: Command }>;

const COMMANDS: Record<string, [what: string, load: Loader]> = {
  compile: ['compile a notebook to a Kubeflow pipeline spec (or --graph: the step graph as JSON)', () => import('./commands/compile.js')],
  run: ['run the pipeline on this machine', () => import('./commands/run.js')],
  runs: ['list runs', () => import('./commands/runs.js')],
  status: ['show a run', () => import('./commands/status.js')],
  logs: ['print (or --follow) a step\'s log', () => import('./commands/logs.js')],
  cancel: ['cancel a run', () => import('./commands/cancel.js')],
  fetch: ['fetch a Kubeflow run\'s step inputs (or --outputs) from KFP\'s object store, for cellpipe.load', () => import('./commands/fetch.js')],
  export: ['write a run\'s executed notebook: each cell with its outputs from that run', () => import('./commands/export.js')],
  compare: ['runs side by side: parameters, metrics, each step\'s state and duration, differences marked', () => import('./commands/compare.js')],
  build: ['build and push every step\'s image', () => import('./commands/build.js')],
  submit: ['build, upload and run on Kubeflow Pipelines', () => import('./commands/submit.js')],
  schedule: ['run a notebook on Kubeflow Pipelines on a cron schedule (or pause|resume|delete one)', () => import('./commands/schedule.js')],
  schedules: ['list Kubeflow Pipelines schedules with their next run', () => import('./commands/schedules.js')],
  doctor: ['check the cluster set-up (every profile, or --profile NAME): API, namespace, permissions, registry', () => import('./commands/doctor.js')],
  serve: ['start the backend HTTP server (used by the JupyterLab extension)', () => import('./commands/serve.js')],
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: cellpipe <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([name, [what]]) => `  ${name.padEnd(width)}  ${what}`),
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
    io.stdout.write(`cellpipe ${CELLPIPE_VERSION}\n`);
    return 0;
  }
  if (!Object.prototype.hasOwnProperty.call(COMMANDS, name)) {
    io.stderr.write(`cellpipe: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  // Any command may open a store holding runs in containers: recovering or cancelling one removes their leftovers.
  registerContainerLeftovers();
  const mod = await COMMANDS[name][1]();
  return mod.default(rest, io);
}

function defaultIO(): CommandIO {
  return { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env };
}
