/**
 * The schedules of one open notebook on the Kubeflow profile picked as target: listed from the backend (which also
 * adds the runs KFP made for them to the run history), created from the sidebar's form, paused, resumed, deleted.
 * Errors go out as messages, shown where the sidebar shows every other error.
 */
import { Signal, type ISignal } from '@lumino/signaling';
import { ResponseError } from './api.js';
import type { ScheduleView } from '../runs/types.js';
import type { PipelineModel } from './pipeline.js';

/** How often the list is asked again while shown (new runs of a schedule join the history then). */
export const SCHEDULES_REFRESH_MS = 30_000;

export class SchedulesModel {
  constructor(readonly pipeline: PipelineModel) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }
  get message(): ISignal<this, { text: string; hint?: string; kind: 'error' | 'info' }> {
    return this._message;
  }
  get profile(): string | undefined {
    return this._profile;
  }
  get schedules(): ScheduleView[] {
    return this._schedules;
  }
  /** True while a schedule is being created (images built, version uploaded). */
  get creating(): boolean {
    return this._creating;
  }
  /** Ids of schedules with a change on the way. */
  get pending(): ReadonlySet<string> {
    return this._pending;
  }

  /** Follows the schedules of `profile` (undefined: none, e.g. the Local target). */
  show(profile: string | undefined): void {
    if (profile === this._profile) return;
    this._profile = profile;
    this._schedules = [];
    clearInterval(this._timer);
    this._timer = undefined;
    this._changed.emit();
    if (!profile) return;
    void this.refresh();
    this._timer = setInterval(() => void this.refresh(), SCHEDULES_REFRESH_MS);
  }

  async refresh(): Promise<void> {
    const profile = this._profile;
    if (!profile) return;
    try {
      const { schedules, recorded } = await this.pipeline.api.listSchedules(this.pipeline.path, profile);
      if (profile !== this._profile) return;
      this._schedules = schedules;
      this._changed.emit();
      // Runs KFP made for a schedule were just added to the run store: show them in the history.
      if (recorded.length) await this.pipeline.loadHistory();
    } catch (err) {
      this.report(err);
    }
  }

  /** Saves the notebook (the backend schedules the file on disk), then creates the schedule. True when made. */
  async create(cron: string, parameters: Record<string, unknown>): Promise<boolean> {
    const profile = this._profile;
    if (!profile || this._creating) return false;
    this._creating = true;
    this._changed.emit();
    try {
      await this.pipeline.panel.context.save();
      const { schedule } = await this.pipeline.api.createSchedule({ path: this.pipeline.path, profile, cron, parameters });
      this._schedules = [schedule, ...this._schedules.filter((s) => s.id !== schedule.id)];
      return true;
    } catch (err) {
      this.report(err);
      return false;
    } finally {
      this._creating = false;
      this._changed.emit();
    }
  }

  async change(id: string, action: 'pause' | 'resume' | 'delete'): Promise<void> {
    const profile = this._profile;
    if (!profile || this._pending.has(id)) return;
    this._pending.add(id);
    this._changed.emit();
    try {
      const r = await this.pipeline.api.changeSchedule(id, profile, action);
      if (action === 'delete') this._schedules = this._schedules.filter((s) => s.id !== id);
      else if (r.schedule) this._schedules = this._schedules.map((s) => (s.id === id ? r.schedule! : s));
    } catch (err) {
      this.report(err);
    } finally {
      this._pending.delete(id);
      this._changed.emit();
    }
  }

  dispose(): void {
    clearInterval(this._timer);
    Signal.clearData(this);
  }

  private report(err: unknown): void {
    const e = ResponseError.from(err);
    this._message.emit({ text: e.message, hint: e.hint, kind: 'error' });
  }

  private _changed = new Signal<this, void>(this);
  private _message = new Signal<this, { text: string; hint?: string; kind: 'error' | 'info' }>(this);
  private _profile: string | undefined;
  private _schedules: ScheduleView[] = [];
  private _creating = false;
  private _pending = new Set<string>();
  private _timer: ReturnType<typeof setInterval> | undefined;
}
