/**
 * Identifiers shared by cellpipe's plugins: command ids, plugin ids, the settings' shape.
 */

/** Plugin ids follow `<npm name>:<schema file name>`. */
export const PLUGIN_ID = 'cellpipe:plugin';

export namespace CommandIDs {
  /** Open the tag editor for a cell (arg `cellIndex`, default the active cell). */
  export const editTags = 'cellpipe:edit-tags';
  /** Make the active cell the first cell of a new step (asks for its name). */
  export const newStep = 'cellpipe:new-step';
  /** Remove the active cell's role so it joins the step above. */
  export const joinAbove = 'cellpipe:join-step-above';
  /** Tag the active cell `skip`. */
  export const skipCell = 'cellpipe:skip-cell';
  /** Set the active cell's role (arg `role`). */
  export const setRole = 'cellpipe:set-role';
  export const run = 'cellpipe:run';
  export const cancel = 'cellpipe:cancel';
  export const openSidebar = 'cellpipe:open-sidebar';
  /** Switch every cell of the notebook between the kernel's outputs and the shown run's. */
  export const toggleRunOutputs = 'cellpipe:toggle-run-outputs';
  /** Insert a Kale 2.3 `notebook:` cell below the cell (arg `cellIndex`), picking the notebook in a file dialog. */
  export const referenceNotebook = 'cellpipe:reference-notebook';
  /** Open a step's whole log in a main-area tab (args `runId`, `step`, `path`). */
  export const fullLog = 'cellpipe:open-full-log';
}

/** The user settings (schema/plugin.json). */
export interface CellpipeSettings {
  /** Kubeflow profiles: name → settings in the profiles file's format (the backend checks them). */
  profiles: Record<string, Record<string, unknown>>;
  runsDir: string;
  concurrency: number;
  defaultBaseImage: string;
  inlineLogs: boolean;
  /** What cells show when a run is shown: its outputs, or the kernel's (the switch on each cell flips it). */
  cellOutputs: 'run' | 'kernel';
}

export const DEFAULT_SETTINGS: CellpipeSettings = {
  profiles: {},
  runsDir: '',
  concurrency: 2,
  defaultBaseImage: '',
  inlineLogs: true,
  cellOutputs: 'run',
};
