/**
 * The compare tab's "One cell across runs": pick a step's cell and see what it showed — plots, tables, text — in
 * each chosen run, side by side. Outputs come from the runs' records (`GET /api/runs/:id/outputs/:step`) and are
 * drawn by the notebook's own renderers, untrusted (HTML sanitised, no scripts), as under the cells.
 */
import React, { useEffect, useRef, useState } from 'react';
import { Widget } from '@lumino/widgets';
import type { RunRecord } from '../../runs/types.js';
import type { PipelineModel } from '../pipeline.js';
import { cellColumn, comparableCells, type CellColumn } from '../model/compareCell.js';
import { mimeBundle, type NbOutput } from '../model/runOutputs.js';
import { ResponseError } from '../api.js';

/** The cells' sources as the notebook has them now (labels only). */
function sources(model: PipelineModel): string[] {
  const cells = model.panel.content.model?.cells;
  const out: string[] = [];
  for (let i = 0; i < (cells?.length ?? 0); i++) out.push(cells!.get(i).sharedModel.getSource());
  return out;
}

/** One run's outputs of the cell, drawn by the notebook's rendermime into this element. */
function Outputs(props: { model: PipelineModel; outputs: Record<string, unknown>[] }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const node = ref.current;
    if (!node) return;
    const rendermime = props.model.panel.content.rendermime;
    const renderers: Widget[] = [];
    for (const output of props.outputs as NbOutput[]) {
      const holder = document.createElement('div');
      holder.className = `cp-compare-output cp-output-${String(output.output_type)}`;
      node.appendChild(holder);
      if (output.output_type === 'error') {
        holder.textContent = `${String(output.ename ?? 'Error')}: ${String(output.evalue ?? '')}`;
        continue;
      }
      const bundle = mimeBundle(output);
      const mime = bundle && rendermime.preferredMimeType(bundle as never, 'any');
      if (!bundle || !mime) {
        holder.textContent = `(no renderer for ${Object.keys(bundle ?? {}).join(', ') || output.output_type})`;
        continue;
      }
      holder.dataset.mimeType = mime;
      const renderer = rendermime.createRenderer(mime);
      const m = rendermime.createModel({ data: bundle as never, metadata: (output.metadata ?? {}) as never, trusted: false });
      void renderer.renderModel(m).catch((err: unknown) => (holder.textContent = `could not render ${mime}: ${String(err)}`));
      // Not Widget.attach: React removes this node before the clean-up runs, and a Lumino widget attached to a node
      // that left the page cannot be detached. Text, HTML and image renderers need no attach message.
      holder.appendChild(renderer.node);
      renderers.push(renderer);
    }
    return () => {
      renderers.forEach((r) => r.dispose());
      node.replaceChildren();
    };
  }, [props.outputs]);
  return <div className="cp-compare-outputs" ref={ref} />;
}

export function CompareCell(props: { model: PipelineModel; runs: RunRecord[] }) {
  const { model, runs } = props;
  const choices = comparableCells(model.result?.graph?.steps ?? [], sources(model));
  const [cell, setCell] = useState<number | undefined>(undefined);
  const [columns, setColumns] = useState<Record<string, CellColumn | { error: string }>>({});
  const picked = choices.find((c) => c.cell === cell);
  const runKey = runs.map((r) => `${r.id}:${r.state}`).join(',');
  useEffect(() => {
    if (!picked) return;
    let gone = false;
    setColumns({});
    for (const run of runs) {
      const state = run.steps.find((s) => s.name === picked.step)?.state;
      const shown = (c: CellColumn | { error: string }) => !gone && setColumns((was) => ({ ...was, [run.id]: c }));
      if (state === undefined || state === 'pending' || state === 'skipped') {
        shown(cellColumn(run.id, undefined, picked.cell, state));
        continue;
      }
      model.api.stepOutputs(run.id, picked.step, model.path).then(
        (answer) => shown(cellColumn(run.id, answer, picked.cell, state)),
        (err: unknown) => shown({ error: ResponseError.from(err).message }),
      );
    }
    return () => void (gone = true);
  }, [cell, runKey]);
  return (
    <section className="cp-compare-cell">
      <h3>One cell across runs</h3>
      {choices.length ? (
        <label>
          Cell{' '}
          <select className="jp-mod-styled" name="compare-cell" value={cell ?? ''} onChange={(e) => setCell(e.target.value === '' ? undefined : Number(e.target.value))}>
            <option value="">choose a cell to see its outputs in each run…</option>
            {choices.map((c) => <option key={c.cell} value={c.cell}>{c.label}</option>)}
          </select>
        </label>
      ) : <div className="cp-empty">The notebook has no step cells to compare.</div>}
      {picked ? (
        <div className="cp-compare-columns" style={{ gridTemplateColumns: `repeat(${runs.length}, minmax(0, 1fr))` }}>
          {runs.map((run) => {
            const c = columns[run.id];
            return (
              <div key={run.id} className="cp-compare-column" data-run-id={run.id}>
                <div className="cp-compare-column-head"><code>{run.id}</code>{run.note ? <span className="cp-run-note"> {run.note}</span> : null}</div>
                {!c ? <div className="cp-empty">loading…</div>
                  : 'error' in c ? <div className="cp-status-error" role="alert">{c.error}</div>
                  : 'none' in c ? <div className="cp-empty cp-compare-none">{c.none}</div>
                  : (
                    <>
                      {c.fromRun ? <div className="cp-hint">reused from run {c.fromRun}</div> : null}
                      <Outputs model={model} outputs={c.outputs} />
                    </>
                  )}
              </div>
            );
          })}
        </div>
      ) : null}
    </section>
  );
}
