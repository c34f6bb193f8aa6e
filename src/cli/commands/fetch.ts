/**
 * `cellpipe fetch RUN STEP [--outputs] [--refresh] [--json] [--store DIR]`: a Kubeflow run's step inputs (or, with
 * --outputs, the variables it wrote) fetched from KFP's object store into the run store, where `cellpipe.load` and
 * `%cellpipe load` read them (runtimes/kubeflow/step-artifacts.ts). What was fetched once is not fetched again unless
 * --refresh. Prints a line per variable, or with --json the manifest and the folder it is in. Exit 0 when fetched.
 */
import type { Command } from '../main.js';
import { commandArgs } from '../args.js';
import { openRun } from '../../runs/locate.js';

const USAGE = `usage: cellpipe fetch RUN STEP [--outputs] [--refresh] [--json] [--store DIR]

  RUN           a Kubeflow run's id (or a unique prefix of one, or 'latest')
  STEP          the step whose inputs (the upstream variables and parameters it reads) are fetched
  --outputs     fetch the variables the step wrote instead
  --refresh     fetch again, even when fetched before
  --json        print {"dir": …, "manifest": …} (what cellpipe.load reads)
  --store DIR   where runs are kept (default: $CELLPIPE_STORE, else ./.cellpipe)

The profile the run was submitted with must set kfp.objectStore (the S3 endpoint of KFP's object store).`;

const fetch: Command = async (argv, io) => {
  const args = commandArgs('fetch', argv, { outputs: {}, refresh: {}, json: {}, store: { value: true } }, USAGE, io, { exactly: 2, what: 'a run id and a step' });
  if (typeof args === 'number') return args;
  const opened = await openRun('fetch', args.flags.store, args.positionals[0], io);
  if (typeof opened === 'number') return opened;
  const { store, rec } = opened;
  const step = args.positionals[1];
  const what = args.flags.outputs ? 'outputs' : 'inputs';
  try {
    if (rec.runtime !== 'kubeflow') {
      io.stderr.write(`cellpipe fetch: run ${rec.id} ran ${rec.runtime === 'local' ? 'on this machine' : 'in containers on this machine'}: its variables are in the run store already (cellpipe.load reads them)\n`);
      return 1;
    }
    const { fetchStepArtifacts, readFetched, describeFetched } = await import('../../runtimes/kubeflow/step-artifacts.js');
    // Fetched before: read offline, without the profile or the cluster.
    let got: { dir: string; manifest: import('../../runtimes/kubeflow/step-artifacts.js').FetchedManifest; fetched: boolean } | undefined =
      args.flags.refresh ? undefined : await readFetched({ store }, rec.id, step, what);
    if (!got) {
      const { runtimeForRecord } = await import('../../runtimes/kubeflow/records.js');
      const runtime = await runtimeForRecord(rec, store, io.env, { kube: null });
      got = await fetchStepArtifacts(runtime, rec, step, what, { refresh: Boolean(args.flags.refresh) });
    }
    if (args.flags.json) io.stdout.write(JSON.stringify({ dir: got.dir, manifest: got.manifest }) + '\n');
    else {
      const lines = describeFetched(got.manifest);
      io.stdout.write(`${what} of step '${step}' of run ${rec.id}${got.fetched ? ' fetched from KFP\'s object store' : ' (fetched before)'} into ${got.dir}${lines.length ? ':' : ': none (it has none)'}\n`);
      for (const l of lines) io.stdout.write(`  ${l}\n`);
      const params = Object.keys(got.manifest.parameters);
      if (params.length) io.stdout.write(`  parameters: ${params.join(', ')}\n`);
    }
    return 0;
  } catch (err) {
    const hint = (err as { hint?: string }).hint;
    io.stderr.write(`cellpipe fetch: ${(err as Error).message}${hint ? `\n  ${hint}` : ''}\n`);
    return 1;
  } finally {
    store.close();
  }
};

export default fetch;
