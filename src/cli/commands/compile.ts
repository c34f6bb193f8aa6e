/**
 * `cellpipe compile NOTEBOOK [-o FILE] [--graph]`: the pipeline spec (or the step graph as JSON).
 * Exit 0 on success, 1 when the notebook has errors (printed with cell and line), 2 for usage errors.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve, relative } from 'node:path';
import type { Command } from '../main.js';
import { compileNotebook, type CompileResult } from '../../core/compile.js';
import { commandArgs } from '../args.js';
import { formatDiagnostics } from '../diagnostics.js';
import { planNotebookFiles, type FilesPlan } from '../../images/files.js';
import { notebookReader } from '../../runs/notebook-reader.js';
import { argoSizeProblem } from '../../kfp/argo-size.js';
import { specDocument } from '../../kfp/parameters.js';

const USAGE = `usage: cellpipe compile NOTEBOOK [-o FILE] [--graph]

  -o, --output FILE   write the pipeline spec (KFP v2 IR YAML) to FILE instead of stdout
  --graph             print the step graph as JSON instead of the spec (with the files each step reads
                      and whether they travel into the step images)`;

const compile: Command = async (argv, io) => {
  const args = commandArgs('compile', argv, { output: { short: 'o', value: true }, graph: {} }, USAGE, io, { exactly: 1, what: 'one notebook' });
  if (typeof args === 'number') return args;
  const path = resolve(io.cwd, args.positionals[0]);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    io.stderr.write(`cellpipe compile: cannot read ${args.positionals[0]}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}\n`);
    return 1;
  }
  const shown = relative(io.cwd, path) || path;
  const result = compileNotebook(text, { path: shown, graphOnly: Boolean(args.flags.graph), readNotebook: notebookReader(path) });
  // Which of the files the steps read exist here and would travel into the images (missing ones are warnings).
  const files = result.graph ? await planNotebookFiles(result, dirname(path)) : undefined;
  const report = formatDiagnostics([...result.diagnostics, ...(files?.diagnostics ?? [])], shown, { color: Boolean(io.stderr.isTTY) });
  if (report) io.stderr.write(report + '\n');
  if (args.flags.graph) {
    io.stdout.write(JSON.stringify(graphJson(result, files), null, 2) + '\n');
    return result.ok ? 0 : 1;
  }
  if (!result.ok || !result.yaml) return 1;
  const travelling = files?.outcomes.filter((o) => o.travels).length ?? 0;
  if (travelling) {
    io.stderr.write(`note: the steps read ${travelling} file${travelling === 1 ? '' : 's'} of the notebook's folder; they travel in built images only ` +
      `(cellpipe build … -o spec.yaml, cellpipe submit): this spec runs the steps without them\n`);
  }
  // A plain spec carries the step runtime in every step: past a few steps its run outgrows Argo's Workflow limit and
  // stops midway on a real Kubeflow. Said here, where the spec is made; the spec is still written (a cluster with
  // Argo's limit raised can run it), and `cellpipe submit` mounts the runtime from a ConfigMap instead.
  const tooLarge = argoSizeProblem(specDocument(result.yaml), { runtimeInlined: true });
  if (tooLarge) io.stderr.write(`warning: ${shown}: ${tooLarge.message}\nhint: ${tooLarge.hint}; or build it with \`cellpipe build … -o spec.yaml\`\n`);
  if (typeof args.flags.output === 'string') await writeFile(resolve(io.cwd, args.flags.output), result.yaml);
  else io.stdout.write(result.yaml);
  return 0;
};

/**
 * The `--graph` JSON: steps with their cells, data, the files they read and options, edges, parameters, metrics,
 * diagnostics. With a files plan, each file says whether it travels into the images (and why not).
 */
export function graphJson(result: CompileResult, files?: FilesPlan): unknown {
  const graph = result.graph;
  const outcome = new Map(files?.outcomes.map((o) => [o.path, o]));
  // A referenced notebook's step (Kale 2.3's notebook: cells) names its notebook, and its cells by their index there.
  const origin = new Map(result.notebook?.cells.filter((c) => c.origin).map((c) => [c.index, c.origin!.index]));
  return {
    ok: result.ok,
    pipeline: graph?.pipeline,
    steps: (graph?.steps ?? []).map((s) => ({
      name: s.name,
      ...(s.unit ? { unit: s.unit } : {}),
      cells: s.cells.map((i) => origin.get(i) ?? i),
      inputs: s.inputs,
      inputSources: s.inputSources,
      outputs: s.outputs,
      parameters: s.parameters,
      metrics: s.metrics,
      files: (s.files ?? []).map((f) => {
        const o = outcome.get(f.path);
        return { ...f, ...(o ? { travels: o.travels, ...(o.why ? { why: o.why } : {}), ...(o.bytes !== undefined ? { bytes: o.bytes } : {}), ...(o.matches ? { matches: o.matches } : {}) } : {}) };
      }),
      image: s.image ?? graph!.pipeline.baseImage,
      resources: s.limits,
      cache: s.cache,
      retries: s.retries,
      timeout: s.timeout,
      requirements: s.requirements,
      secrets: s.secrets,
      labels: s.labels,
      annotations: s.annotations,
    })),
    edges: graph?.edges ?? [],
    parameters: (graph?.parameters ?? []).map((p) => ({ name: p.name, type: p.type, default: p.default })),
    metrics: graph?.metrics ?? [],
    diagnostics: [...result.diagnostics, ...(files?.diagnostics ?? [])],
  };
}

export default compile;
