/**
 * The cell outputs of the run a notebook shows: fetched step by step as each step ends (the step runtime writes them
 * once, when the step is done), again when another run is selected. Views follow `changed`.
 */
import { Signal, type ISignal } from '@lumino/signaling';
import type { RunRecord } from '../runs/types.js';
import type { PipelineModel } from './pipeline.js';
import { isStepDone } from './model/runs.js';
import { printsShown, type StepOutputs } from './model/runOutputs.js';

export class RunOutputsModel {
  constructor(readonly model: PipelineModel) {
    model.runChanged.connect(this.onRun, this);
    this.onRun(model, model.run);
  }

  /** Emitted when outputs arrived or the shown run changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The run whose outputs these are. */
  get runId(): string | undefined {
    return this._runId;
  }

  /** The recorded steps, in the run's step order. */
  steps(): StepOutputs[] {
    const run = this.model.run;
    if (!run || run.id !== this._runId) return [];
    return run.steps.map((s) => this._byStep.get(s.name)).filter((s): s is StepOutputs => !!s);
  }

  /** True when the step's recorded outputs show under its cells all it printed (nothing was cut at a size limit). */
  showsAllPrints(step: string): boolean {
    const got = this.model.run?.id === this._runId ? this._byStep.get(step) : undefined;
    return !!got && printsShown(got.cells) === 'all';
  }

  dispose(): void {
    this.model.runChanged.disconnect(this.onRun, this);
    Signal.clearData(this);
  }

  private onRun(_: unknown, run: RunRecord | undefined): void {
    if (run?.id !== this._runId) {
      this._runId = run?.id;
      this._byStep = new Map();
      this._asked = new Map();
      this._changed.emit();
    }
    if (!run) return;
    for (const s of run.steps) {
      // The pointer changes when a retried step writes again; a step still running has written nothing yet.
      if (!s.cellOutputs || !isStepDone(s.state) || this._asked.get(s.name) === s.cellOutputs) continue;
      // A referenced notebook's step ran that notebook's cells, not these: it shows them there (model/partOf.ts).
      if (!this.model.ranHere(s)) continue;
      this._asked.set(s.name, s.cellOutputs);
      const runId = run.id;
      void this.model.api.stepOutputs(runId, this.model.recordedStep(s.name), this.model.path).then(
        (got) => {
          if (this._runId !== runId || !got.recorded) return;
          this._byStep.set(s.name, { step: s.name, fromRun: got.fromRun ?? runId, cells: got.cells, sources: got.sources });
          this._changed.emit();
        },
        (err: unknown) => {
          if (this._runId !== runId) return;
          this._asked.delete(s.name);
          this.model.reportError(err);
        },
      );
    }
  }

  private _changed = new Signal<this, void>(this);
  private _runId: string | undefined;
  private _byStep = new Map<string, StepOutputs>();
  private _asked = new Map<string, string>();
}
