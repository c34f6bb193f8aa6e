/**
 * `cellpipe serve --socket PATH | --port N [--root DIR]`: the backend the JupyterLab extension talks to.
 * Started by the Jupyter server glue (python/cellpipe) through jupyter-server-proxy on a Unix socket;
 * `--port` is for development and listens on 127.0.0.1 only.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../main.js';
import { UsageError } from '../args.js';

const USAGE = `usage: cellpipe serve (--socket PATH | --port N) [--root DIR]

Start the backend HTTP API (used by the JupyterLab extension).

  --socket PATH   listen on a Unix socket (how Jupyter starts it: only Jupyter can reach it)
  --port N        listen on 127.0.0.1:N instead (development; 0 picks a free port)
  --root DIR      the Jupyter root directory; notebook paths are relative to it (default: current directory)
`;

const serve: Command = async (args, io) => {
  let socket: string | undefined;
  let port: number | undefined;
  let root = io.cwd;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined || v === '') throw new UsageError(`${name} needs a value`);
      return v;
    };
    try {
      switch (name) {
        case '--help':
        case '-h':
          io.stdout.write(USAGE);
          return 0;
        case '--socket':
          socket = path.resolve(io.cwd, value());
          break;
        case '--port': {
          const v = value();
          if (!/^\d+$/.test(v) || Number(v) > 65535) throw new UsageError(`--port must be a number from 0 to 65535, got '${v}'`);
          port = Number(v);
          break;
        }
        case '--root':
          root = path.resolve(io.cwd, value());
          break;
        default:
          throw new UsageError(`unknown option '${arg}'`);
      }
    } catch (err) {
      if (err instanceof UsageError) {
        io.stderr.write(`cellpipe serve: ${err.message}\n\n${USAGE}`);
        return 2;
      }
      throw err;
    }
  }
  if ((socket === undefined) === (port === undefined)) {
    io.stderr.write(`cellpipe serve: give either --socket PATH or --port N\n\n${USAGE}`);
    return 2;
  }
  try {
    if (!statSync(root).isDirectory()) throw new Error('not a directory');
  } catch {
    io.stderr.write(`cellpipe serve: --root '${root}' is not a directory\n`);
    return 2;
  }
  // Runs started here resolve relative notebook paths (and steps' working directories) against the root.
  process.chdir(root);

  const { startServer } = await import('../../server/index.js');
  let running;
  try {
    running = await startServer({ root, socket, port });
  } catch (err) {
    io.stderr.write(`cellpipe serve: ${(err as Error).message}\n`);
    return 1;
  }
  io.stdout.write(`cellpipe backend listening on ${running.address} (root ${root})\n`);
  if (port !== undefined) {
    io.stderr.write('cellpipe serve: note: --port has no authentication; anyone on this machine can use it. Jupyter uses --socket.\n');
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      io.stderr.write(`cellpipe serve: ${signal}, stopping (cancelling runs started here)\n`);
      running.close().then(
        () => resolve(0),
        (err) => {
          io.stderr.write(`cellpipe serve: error while stopping: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.once('SIGHUP', stop);
  });
};

export default serve;
