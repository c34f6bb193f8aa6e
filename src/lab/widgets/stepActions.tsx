/**
 * The sidebar's part of the debugging loop: "Debug a step" (pick a step: Run this step, Run from here, Load inputs
 * into kernel) and "Run without cache" beside Run. The cell chips and a failed step's inline-log header get the
 * same actions from ./stepActionsDom.ts; both call ../debug.ts.
 */
import React, { useState } from 'react';
import type { PipelineModel } from '../pipeline.js';
import { loadStepIntoKernel, startPartialRun } from '../debug.js';
import { partialChoice, reuseWording, reusesEarlierRun, stepToDebug } from '../model/debug.js';

/** "Run without cache": every step runs again, nothing reused (`cellpipe run --no-cache`). */
export function RunWithoutCacheButton(props: { model: PipelineModel; target: string; disabled: boolean }) {
  return (
    <button className="jp-mod-styled cp-run-nocache-button" disabled={props.disabled}
      title={reusesEarlierRun(props.target) ? 'save the notebook and run every step again, reusing nothing from earlier runs' : "submit with KFP's cache off: every step executes"}
      onClick={() => void startPartialRun(props.model, partialChoice('no-cache'), props.target)}>
      Run without cache
    </button>
  );
}

/**
 * A step picker (the shown run's failed step first; a click on a node of the step graph picks that step) with the
 * actions on that step.
 */
export function StepActions(props: {
  model: PipelineModel; target: string; disabled: boolean; goToCell: (cell: number) => void;
  picked?: string; onPick?: (step: string) => void;
}) {
  const { model } = props;
  const graph = model.result?.graph;
  const [own, setOwn] = useState<string | undefined>(undefined);
  const picked = props.picked ?? own;
  const setPicked = props.onPick ?? setOwn;
  const names = graph?.steps.map((s) => s.name) ?? [];
  if (!graph || !names.length) return <div className="cp-empty">No steps to debug yet.</div>;
  const step = picked && names.includes(picked) ? picked : stepToDebug(graph, model.run)!;
  const hasRun = model.runs.length > 0;
  // Locally the other steps come from an earlier run, so there must be one; on Kubeflow KFP's cache decides.
  const needsRun = reusesEarlierRun(props.target) && !hasRun;
  const runDisabled = props.disabled || needsRun;
  const runTitle = (what: string) => (needsRun ? 'run the whole pipeline once first: the other steps take their outputs from a run' : `${what}; ${reuseWording(props.target)}`);
  return (
    <div className="cp-step-actions" data-step={step}>
      <label className="cp-step-pick">
        Step{' '}
        <select className="jp-mod-styled" name="debug-step" value={step} onChange={(e) => setPicked(e.target.value)}>
          {names.map((n) => {
            const state = model.run?.steps.find((s) => s.name === n)?.state;
            return <option key={n} value={n}>{state ? `${n} (${state})` : n}</option>;
          })}
        </select>
      </label>
      <div className="cp-step-buttons">
        <button className="jp-mod-styled cp-run-only-button" disabled={runDisabled}
          title={runTitle(`run only '${step}'`)}
          onClick={() => void startPartialRun(model, partialChoice('only', step), props.target)}>
          Run this step
        </button>
        <button className="jp-mod-styled cp-run-from-button" disabled={runDisabled}
          title={runTitle(`run '${step}' and every step after it`)}
          onClick={() => void startPartialRun(model, partialChoice('from', step), props.target)}>
          Run from here
        </button>
        <button className="jp-mod-styled cp-load-inputs-button" disabled={!hasRun}
          title={hasRun ? `bind the variables '${step}' read in the run (and run the imports/functions cells) in this notebook's kernel, then go to its cell` : 'run the pipeline first'}
          onClick={() => void loadStepIntoKernel(model, step, props.goToCell)}>
          Load inputs into kernel
        </button>
      </div>
    </div>
  );
}
