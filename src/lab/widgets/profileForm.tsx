/**
 * "Add a Kubeflow profile…" under the target picker: the profiles file's fields (core/profile-form.ts), each checked
 * as it is typed with a message naming it, saved through the backend into the profiles file. The backend checks
 * again and answers the target list under the new file, so the picker lists the profile at once — usable, or
 * disabled with its fix, as the backend's checks of it decide. No field takes a secret: a KFP token is named by
 * the file or environment variable that holds it.
 */
import React, { useState } from 'react';
import { EMPTY_PROFILE_FORM, PROFILE_FIELDS, profileFormErrors, type ProfileField, type ProfileFormValues } from '../../core/profile-form.js';
import { ResponseError, type CellpipeAPI } from '../api.js';
import type { ProfilesResponse } from '../model/targets.js';
import { ErrorNote } from './errorNote.js';

export interface ProfileFormProps {
  api: CellpipeAPI;
  /** The backend saved it: `resp` lists the targets under the new profiles file. */
  onSaved(name: string, resp: ProfilesResponse & { file: string }): void;
  onCancel(): void;
}

/** Fields shown only when they mean something: the token file with token-file auth, the variable with token auth. */
function shown(key: ProfileField, v: ProfileFormValues): boolean {
  if (key === 'kfpTokenFile') return v.kfpAuth === 'token-file' || v.kfpTokenFile !== '';
  if (key === 'kfpTokenEnv') return v.kfpAuth === 'token' || v.kfpTokenEnv !== '';
  return true;
}

export function ProfileForm(props: ProfileFormProps) {
  const [values, setValues] = useState<ProfileFormValues>({ ...EMPTY_PROFILE_FORM });
  // A field's message shows once it was left (or on Save), not while the first letters are typed.
  const [touched, setTouched] = useState<Partial<Record<ProfileField, boolean>>>({});
  const [saving, setSaving] = useState(false);
  const [failure, setFailure] = useState<{ text: string; hint?: string } | null>(null);
  const errors = profileFormErrors(values);
  const set = (key: ProfileField, value: string | boolean) => setValues({ ...values, [key]: value });
  const save = async () => {
    setTouched(Object.fromEntries(PROFILE_FIELDS.map((f) => [f.key, true])));
    if (Object.keys(errors).length) return;
    setSaving(true);
    setFailure(null);
    try {
      const resp = await props.api.addProfile(values);
      props.onSaved(resp.saved, resp);
    } catch (err) {
      const e = ResponseError.from(err);
      setFailure({ text: e.message, hint: e.hint });
    } finally {
      setSaving(false);
    }
  };
  return (
    <form className="cp-profile-form" aria-label="Add a Kubeflow profile" onSubmit={(e) => (e.preventDefault(), void save())}>
      <h4>Add a Kubeflow profile</h4>
      <p className="cp-hint">Saved into the profiles file the backend and <code>cellpipe --profile</code> read; no secret is stored.</p>
      {PROFILE_FIELDS.filter((f) => shown(f.key, values)).map((f) => {
        const error = touched[f.key] ? errors[f.key] : undefined;
        const id = `cp-profile-${f.key}`;
        const v = values[f.key];
        return (
          <div key={f.key} className={`cp-profile-field${error ? ' cp-invalid' : ''}`} data-field={f.key}>
            {typeof v === 'boolean' ? (
              <label>
                <input type="checkbox" name={f.key} checked={v} onChange={(e) => set(f.key, e.target.checked)} /> {f.label}
              </label>
            ) : (
              <>
                <label htmlFor={id}>{f.label}</label>
                {f.choices ? (
                  <select id={id} name={f.key} className="jp-mod-styled" value={v} onChange={(e) => set(f.key, e.target.value)} onBlur={() => setTouched({ ...touched, [f.key]: true })}>
                    {f.choices.map((c) => <option key={c} value={c}>{c || '(default)'}</option>)}
                  </select>
                ) : (
                  <input id={id} name={f.key} className={`jp-mod-styled cp-input${error ? ' cp-input-invalid' : ''}`} value={v} placeholder={f.example} aria-invalid={!!error}
                    autoComplete="off" spellCheck={false} onChange={(e) => set(f.key, e.target.value)} onBlur={() => setTouched({ ...touched, [f.key]: true })} />
                )}
              </>
            )}
            {error ? <div className="cp-field-error" role="alert">{error}</div> : <div className="cp-hint">{f.help}</div>}
          </div>
        );
      })}
      {failure ? (
        <ErrorNote error={failure} />
      ) : null}
      <div className="cp-profile-buttons">
        <button type="submit" className="jp-mod-styled jp-mod-accept cp-profile-save" disabled={saving}>{saving ? 'Saving…' : 'Save profile'}</button>
        <button type="button" className="jp-mod-styled cp-profile-cancel" onClick={props.onCancel}>Cancel</button>
      </div>
    </form>
  );
}
