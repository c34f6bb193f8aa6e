/**
 * `POST /api/profiles`: a Kubeflow profile from the page's "Add a Kubeflow profile…" form, checked field by field
 * (core/profile-form.ts, then the profiles file's own checks) and added to the profiles file the backend and the CLI
 * read (`$CELLPIPE_PROFILES`, else `~/.config/cellpipe/profiles.yaml`). The file keeps its comments and other profiles;
 * it is written whole to a temporary file and renamed over the old one, readable by the user only. A profile of that
 * name already there is never replaced. The form asks for no secret: a KFP token is named by its file or variable.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Document, isMap, parseDocument, YAMLMap } from 'yaml';
import { profileFormErrors, profileSettings, readProfileForm } from '../core/profile-form.js';
import { HttpError } from './http.js';

/** Checks the form in `body`; answers the profile's name and settings, or a 400 naming every field at fault. */
export async function checkedProfile(body: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<{ name: string; settings: Record<string, unknown> }> {
  const read = readProfileForm(body);
  if (!read.values) throw new HttpError(400, `profile form: ${read.error}`);
  const errors = profileFormErrors(read.values);
  const fields = Object.values(errors);
  if (fields.length) throw new HttpError(400, fields.join('; '), 'Fix the fields named, then save again.', { fields: errors });
  const { name, settings } = profileSettings(read.values);
  // The checks every reader of the file applies (the same code): what passes here loads there.
  const { checkProfile } = await import('../kube/profile.js');
  const { kfpSettings } = await import('../kfp/endpoint.js');
  try {
    kfpSettings(checkProfile(name, settings, 'the form', env), env);
  } catch (err) {
    const hint = (err as { hint?: unknown }).hint;
    throw new HttpError(400, (err as Error).message, typeof hint === 'string' ? hint : 'Fix the field named, then save again.');
  }
  return { name, settings };
}

/** Adds `name` to the profiles file (made if missing); 409 when the file has it already, 400 when it is not YAML. */
export async function addProfile(file: string, name: string, settings: Record<string, unknown>): Promise<void> {
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const doc = text.trim() ? parseDocument(text) : new Document({ profiles: {} });
  if (doc.errors.length) {
    throw new HttpError(400, `${file}: not valid YAML: ${doc.errors[0].message}`, 'Fix the profiles file first (cellpipe doctor shows what is wrong), then save again.');
  }
  if (doc.contents === null || doc.contents === undefined) doc.contents = new YAMLMap();
  if (!isMap(doc.contents)) throw new HttpError(400, `${file}: expected a top-level 'profiles:' mapping`, 'Fix the profiles file first, then save again.');
  const profiles = doc.get('profiles', true);
  if (profiles === undefined || profiles === null) doc.set('profiles', doc.createNode({}));
  else if (!isMap(profiles)) throw new HttpError(400, `${file}: 'profiles' must be a mapping of profile names to settings`, 'Fix the profiles file first, then save again.');
  else profiles.flow = false; // `profiles: {}` grows as a block, one profile under the other
  if (doc.hasIn(['profiles', name])) {
    throw new HttpError(409, `profile '${name}' already exists in ${file}`, 'Choose another name, or edit that profile in the file.');
  }
  doc.setIn(['profiles', name], doc.createNode(settings));
  const out = doc.toString({ lineWidth: 0 });
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, out, { mode: 0o600 });
  await rename(tmp, file);
}
