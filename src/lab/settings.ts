/**
 * JupyterLab's cellpipe settings, followed: every change recompiles the open notebooks, redraws their logs and
 * outputs, and is sent to the backend, whose answer is the target list under the new settings.
 */
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ResponseError, type CellpipeAPI } from './api.js';
import type { ProfilesResponse } from './model/targets.js';
import type { OpenNotebooks } from './notebooks.js';
import { DEFAULT_SETTINGS, PLUGIN_ID, type CellpipeSettings } from './tokens.js';

export interface SettingsFollower {
  api: CellpipeAPI;
  notebooks: OpenNotebooks;
  /** Keeps the settings in force. */
  set(settings: CellpipeSettings): void;
  /** The targets the backend offers under them. */
  showTargets(resp: ProfilesResponse): void;
  /** Something to tell the user (the backend refused them). */
  status(status: { text: string; hint?: string }): void;
  /** Redraw the sidebar. */
  redraw(): void;
}

export async function followSettings(registry: ISettingRegistry, f: SettingsFollower): Promise<void> {
  let lastOutputsMode: CellpipeSettings['cellOutputs'] = DEFAULT_SETTINGS.cellOutputs;
  const s = await registry.load(PLUGIN_ID);
  const apply = () => {
    const composite = s.composite as Partial<CellpipeSettings>;
    const settings = { ...DEFAULT_SETTINGS, ...composite };
    f.set(settings);
    const outputsMode = composite.cellOutputs === 'kernel' ? 'kernel' : 'run';
    const changedMode = outputsMode !== lastOutputsMode;
    lastOutputsMode = outputsMode;
    for (const { model, decorations, outputs } of f.notebooks.all()) {
      model.compileNow();
      decorations.renderLogs();
      if (changedMode) outputs.setMode(outputsMode);
    }
    f.redraw();
    // The backend runs with these settings too; its answer is the target list under them.
    const { profiles, runsDir, concurrency, defaultBaseImage } = settings;
    void f.api
      .putSettings({ profiles, runsDir, concurrency, defaultBaseImage })
      .then((resp) => f.showTargets(resp))
      .catch((err: unknown) => {
        const e = ResponseError.from(err);
        f.status({ text: `cellpipe settings not applied: ${e.message}`, hint: e.hint });
      });
  };
  s.changed.connect(apply);
  apply();
}
