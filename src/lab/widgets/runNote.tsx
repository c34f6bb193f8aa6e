/**
 * A run's note in the run header: shown as plain text (never markup), "add a note" when there is none; click to
 * edit, Enter or Save keeps it in the run's record (through the backend), Escape leaves it as it was. The history
 * rows show it too (./history.tsx).
 */
import React, { useState } from 'react';
import { checkNote, NOTE_MAX_CHARS } from '../../core/run-note.js';
import type { RunRecord } from '../../runs/types.js';
import { ResponseError } from '../api.js';
import type { PipelineModel } from '../pipeline.js';

export function RunNote(props: { model: PipelineModel; run: RunRecord }) {
  const { model, run } = props;
  const [editing, setEditing] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  if (editing === null) {
    return (
      <div className="cp-run-note-bar">
        {run.note ? <span className="cp-run-note" title="this run's note">{run.note}</span> : null}
        <button className="cp-link-button cp-run-note-edit" title={`a short note on run ${run.id}, kept in its record`}
          onClick={() => (setProblem(null), setEditing(run.note ?? ''))}>
          {run.note ? 'edit note' : 'add a note'}
        </button>
      </div>
    );
  }
  const checked = checkNote(editing);
  const save = async () => {
    if ('error' in checked) return setProblem(checked.error);
    setSaving(true);
    try {
      await model.setNote(run.id, checked.note);
      setEditing(null);
      setProblem(null);
    } catch (err) {
      const e = ResponseError.from(err);
      setProblem(e.hint ? `${e.message} (${e.hint})` : e.message);
    } finally {
      setSaving(false);
    }
  };
  const error = problem ?? ('error' in checked ? checked.error : null);
  return (
    <div className="cp-run-note-bar cp-run-note-editing">
      <input className={`jp-mod-styled cp-input cp-run-note-input${error ? ' cp-input-invalid' : ''}`} name="run-note" value={editing} autoFocus
        placeholder="a short note, e.g. baseline" aria-label={`note on run ${run.id}`} aria-invalid={!!error} maxLength={NOTE_MAX_CHARS + 50}
        onChange={(e) => (setProblem(null), setEditing(e.target.value))}
        onKeyDown={(e) => {
          if (e.key === 'Enter') void save();
          else if (e.key === 'Escape') setEditing(null);
        }} />
      <button className="jp-mod-styled cp-run-note-save" disabled={saving || 'error' in checked} onClick={() => void save()}>Save</button>
      <span className="cp-hint">{[...editing].length}/{NOTE_MAX_CHARS}</span>
      {error ? <div className="cp-field-error" role="alert">{error}</div> : null}
    </div>
  );
}
