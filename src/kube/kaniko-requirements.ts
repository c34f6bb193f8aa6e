/**
 * The requirements image built in the cluster: the same Containerfile and context as the local buildah build
 * (images/requirements.ts), run by a kaniko Job (./kaniko.ts) in the profile's namespace. For profiles whose
 * `build` is `kaniko`, or `auto` on a machine without buildah (a notebook pod has no container tools).
 */
import { buildLayer } from '../images/layer.js';
import { requirementsContext, type LocalBuilderOptions } from '../images/requirements.js';
import type { KubeConnection } from './connect.js';
import { buildWithKaniko, type KanikoBuildOptions } from './kaniko.js';

/** A requirements builder (the `buildRequirements` of the image build) that runs kaniko through `conn`. */
export function kanikoRequirementsBuilder(
  conn: KubeConnection,
  extra: Pick<KanikoBuildOptions, 'image' | 'hostNetwork' | 'cleanup' | 'timeoutSeconds' | 'signal'> = {},
): (o: LocalBuilderOptions) => Promise<string> {
  return async (o) => {
    const ctx = requirementsContext(o.base, o.requirements, { pip: o.pip });
    // The context goes in as a gzipped tar, the same reproducible tar the step layers are.
    const context = await buildLayer([
      { path: 'Containerfile', data: ctx.containerfile },
      ...Object.entries(ctx.files).map(([path, data]) => ({ path, data })),
    ]);
    const credentials = o.credential?.username && o.credential.password !== undefined
      ? [{ registry: o.registry, username: o.credential.username, password: o.credential.password }]
      : undefined;
    const result = await buildWithKaniko({
      ...extra,
      conn,
      context: context.blob,
      dockerfile: 'Containerfile',
      destinations: [o.target],
      credentials,
      insecureRegistry: o.insecure,
      onProgress: (line) => o.onLog?.(line.text),
    });
    return result.digest ?? '';
  };
}
