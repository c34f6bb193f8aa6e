/**
 * Notebook-level settings: Kale's `metadata.kubeflow_notebook` read as Kale writes it, overridden by cellpipe's own
 * `metadata.cellpipe` (which is what cellpipe writes).
 */
import type { Diagnostic, PipelineSettings, VolumeMount } from './model.js';
import { isObject } from './notebook.js';

export const DEFAULT_BASE_IMAGE = 'python:3.11-slim';

export interface NotebookSettings extends PipelineSettings {
  /** Tags applied to every step before its own (Kale's `steps_defaults`). */
  stepDefaults: string[];
}

/** `defaultBaseImage`: the base image when the notebook names none (the user's setting; else DEFAULT_BASE_IMAGE). */
export function readSettings(metadata: Record<string, unknown>, notebookPath: string | undefined, defaultBaseImage?: string): { settings: NotebookSettings; diagnostics: Diagnostic[] } {
  const kale = isObject(metadata.kubeflow_notebook) ? metadata.kubeflow_notebook : {};
  const own = isObject(metadata.cellpipe) ? metadata.cellpipe : {};
  const diagnostics: Diagnostic[] = [];
  const str = (...values: unknown[]) => values.find((v): v is string => typeof v === 'string' && v.trim() !== '')?.trim();
  const experiment = isObject(kale.experiment) ? kale.experiment.name : undefined;
  const rawName = str(own.pipeline_name, kale.pipeline_name) ?? stem(notebookPath) ?? 'pipeline';
  const name = pipelineName(rawName);
  if (name !== rawName) {
    diagnostics.push({
      severity: 'info', code: 'pipeline-name', message: `pipeline name '${rawName}' is used as '${name}' (Kubeflow allows lowercase letters, digits and -)`,
    });
  }
  const volumes: VolumeMount[] = [];
  const rawVolumes = Array.isArray(own.volumes) ? own.volumes : Array.isArray(kale.volumes) ? kale.volumes : [];
  rawVolumes.forEach((v, i) => {
    if (!isObject(v)) return;
    const mountPoint = str(v.mount_point, v.mountPoint);
    const claim = str(v.name);
    const type = str(v.type) ?? 'pvc';
    if (!mountPoint || !claim || type !== 'pvc') {
      diagnostics.push({
        severity: 'warning', code: 'unsupported-volume', message: `volume ${i + 1} in the notebook settings is ignored: cellpipe mounts existing PVCs (type 'pvc' with name and mount_point)`,
        hint: 'create the claim in the namespace and list it as {type: pvc, name, mount_point}',
      });
      return;
    }
    volumes.push({ name: claim, mountPoint });
  });
  const defaults = own.steps_defaults ?? kale.steps_defaults;
  return {
    settings: {
      name,
      description: str(own.pipeline_description, kale.pipeline_description) ?? '',
      experiment: str(own.experiment_name, kale.experiment_name, experiment) ?? 'Default',
      baseImage: str(own.base_image, own.docker_image, kale.docker_image, kale.base_image) ?? str(defaultBaseImage) ?? DEFAULT_BASE_IMAGE,
      volumes,
      stepDefaults: Array.isArray(defaults) ? defaults.filter((t): t is string => typeof t === 'string') : [],
    },
    diagnostics,
  };
}

/** Kubeflow's rule for pipeline names: `^[a-z0-9][a-z0-9-]{0,127}$`. */
export function pipelineName(raw: string): string {
  const cleaned = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 128);
  return cleaned || 'pipeline';
}

function stem(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const base = path.split(/[\\/]/).pop() ?? '';
  return base.replace(/\.ipynb$/i, '') || undefined;
}
