/**
 * The cell tag editor: a dialog with the cell's role, step name (validated as you type), depends-on (among the
 * notebook's other steps) and step options. Its value is a `TagEdit`; writing tags is the caller's job.
 */
import React, { useState } from 'react';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ROLE_CHOICES, validateTagEdit, type TagEdit, type FieldError } from '../model/tags.js';
import { fileLine, stepColor } from '../model/cells.js';
import type { StepFile } from '../../core/model.js';

const ROLE_LABELS: Record<string, string> = {
  none: 'untagged (joins the step above)',
  step: 'step',
  imports: 'imports',
  functions: 'functions',
  'pipeline-parameters': 'pipeline parameters',
  'pipeline-metrics': 'pipeline metrics',
  skip: 'skip (not in the pipeline)',
};

function Field(props: { label: string; name: keyof TagEdit; errors: FieldError[]; children: React.ReactNode; hint?: string }) {
  const error = props.errors.find((e) => e.field === props.name);
  return (
    <div className={`cp-field ${error ? 'cp-field-invalid' : ''}`}>
      <span className="cp-field-label" id={`cp-field-${props.name}`}>{props.label}</span>
      {props.children}
      {error ? <span className="cp-field-error" role="alert">{error.message}</span> : props.hint ? <span className="cp-field-hint">{props.hint}</span> : null}
    </div>
  );
}

function TagForm(props: { initial: TagEdit; steps: string[]; onChange: (edit: TagEdit) => void; color: (step: string) => string; files: readonly StepFile[] }) {
  const [edit, setEdit] = useState(props.initial);
  const set = (patch: Partial<TagEdit>) => {
    const next = { ...edit, ...patch };
    setEdit(next);
    props.onChange(next);
  };
  const errors = validateTagEdit(edit);
  const others = props.steps.filter((s) => s !== edit.step.trim());
  const text = (name: 'image' | 'cpu' | 'memory' | 'gpu' | 'retries' | 'timeout' | 'requirements', label: string, placeholder: string) => (
    <Field label={label} name={name} errors={errors}>
      <input className="jp-mod-styled cp-input" name={name} aria-labelledby={`cp-field-${name}`} value={edit[name]} placeholder={placeholder} onChange={(e) => set({ [name]: e.target.value })} />
    </Field>
  );
  return (
    <div className="cp-tag-form">
      <Field label="Role" name="role" errors={errors}>
        <select className="jp-mod-styled cp-input" name="role" aria-labelledby="cp-field-role" value={edit.role} onChange={(e) => set({ role: e.target.value as TagEdit['role'] })}>
          {ROLE_CHOICES.map((r) => (
            <option key={r} value={r}>
              {ROLE_LABELS[r]}
            </option>
          ))}
        </select>
      </Field>
      {edit.role === 'step' && (
        <>
          <Field label="Step name" name="step" errors={errors} hint="letters, digits, _ and -; renaming updates every prev: that names it">
            <input className="jp-mod-styled cp-input" name="step" aria-labelledby="cp-field-step" value={edit.step} autoFocus onChange={(e) => set({ step: e.target.value })}
              style={{ borderLeft: `4px solid ${edit.step ? props.color(edit.step.trim()) : 'transparent'}` }} />
          </Field>
          <Field label="Depends on" name="prev" errors={errors} hint={others.length ? undefined : 'no other steps yet'}>
            <span className="cp-prev-list">
              {others.map((s) => (
                <label key={s} className="cp-prev-choice" style={{ borderColor: props.color(s) }}>
                  <input type="checkbox" name={`prev:${s}`} checked={edit.prev.includes(s)}
                    onChange={(e) => set({ prev: e.target.checked ? [...edit.prev, s] : edit.prev.filter((p) => p !== s) })} />
                  {s}
                </label>
              ))}
            </span>
          </Field>
          {text('image', 'Image', 'pipeline base image')}
          <div className="cp-field-row">
            {text('cpu', 'CPU limit', 'e.g. 2 or 500m')}
            {text('memory', 'Memory limit', 'e.g. 4Gi')}
            {text('gpu', 'GPUs', 'e.g. 1')}
          </div>
          <div className="cp-field-row">
            <Field label="Cache" name="cache" errors={errors}>
              <select className="jp-mod-styled cp-input" name="cache" aria-labelledby="cp-field-cache" value={edit.cache} onChange={(e) => set({ cache: e.target.value as TagEdit['cache'] })}>
                <option value="default">default</option>
                <option value="enabled">enabled</option>
                <option value="disabled">disabled</option>
              </select>
            </Field>
            {text('retries', 'Retries', '0')}
            {text('timeout', 'Timeout (s)', 'none')}
          </div>
          {text('requirements', 'Requirements', 'pandas==2.2, scikit-learn')}
          <Field label="Environment" name="env" errors={errors} hint="one NAME=value a line (not secrets: use a secret: tag for those)">
            <textarea className="jp-mod-styled cp-input cp-env-input" name="env" aria-labelledby="cp-field-env" rows={3} value={edit.env}
              placeholder="DATASET_URL=https://example.com/data.csv" spellCheck={false} onChange={(e) => set({ env: e.target.value })} />
          </Field>
          {props.files.length > 0 && (
            <div className="cp-field">
              <span className="cp-field-label">Files it reads</span>
              <ul className="cp-files-list" aria-label="files this step reads">
                {props.files.map((f) => <li key={f.path}>{fileLine(f)}</li>)}
              </ul>
              <span className="cp-field-hint">found in the step's code; what cellpipe cannot see goes in metadata.cellpipe.files</span>
            </div>
          )}
        </>
      )}
    </div>
  );
}

class TagEditorBody extends ReactWidget implements Dialog.IBodyWidget<TagEdit> {
  constructor(
    private initial: TagEdit,
    private steps: string[],
    private color: (step: string) => string,
    private files: readonly StepFile[],
  ) {
    super();
    this.value = initial;
    this.addClass('cp-tag-editor');
  }
  value: TagEdit;
  getValue(): TagEdit {
    return this.value;
  }
  render() {
    return <TagForm initial={this.initial} steps={this.steps} onChange={(e) => (this.value = e)} color={this.color} files={this.files} />;
  }
}

/** The editor's button that leaves it to insert a `notebook:` cell below (Kale 2.3 composition), with a file picker. */
export const REFERENCE_NOTEBOOK = 'Reference a notebook below…';

/**
 * Opens the editor; resolves with the accepted fields, `'reference-notebook'` when the user asked to insert a
 * `notebook:` cell below instead (nothing is written then), or undefined when cancelled. An invalid form is shown
 * again with its messages instead of being written.
 */
export async function editTagsDialog(
  title: string, initial: TagEdit, steps: string[], color: (step: string) => string = stepColor, files: readonly StepFile[] = [],
): Promise<TagEdit | 'reference-notebook' | undefined> {
  let current = initial;
  for (;;) {
    const result = await showDialog({
      title,
      body: new TagEditorBody(current, steps, color, files),
      buttons: [
        Dialog.createButton({ label: REFERENCE_NOTEBOOK, className: 'cp-reference-notebook', caption: 'pick a notebook whose steps become steps of this pipeline: a notebook: cell is inserted below this cell' }),
        Dialog.cancelButton(),
        Dialog.okButton({ label: 'Save tags' }),
      ],
    });
    if (result.button.label === REFERENCE_NOTEBOOK) return 'reference-notebook';
    if (!result.button.accept || !result.value) return undefined;
    current = result.value;
    if (validateTagEdit(current).length === 0) return current;
  }
}
