/**
 * The step runtime's ConfigMap in the run's namespace, for specs whose steps do not carry the runtime in an image
 * (core/inline-runtime.ts says why it is not inlined in each step): created once per runtime version (its name is
 * its content's hash, so an existing one is the same), kept for the runs that mount it.
 */
import { runtimeConfigMap } from '../../core/inline-runtime.js';
import type { KubeConnection } from '../../kube/connect.js';
import { KubeError } from '../../kube/errors.js';

/** Makes sure the runtime's ConfigMap exists in `conn`'s namespace; a KubeError (e.g. forbidden) when it cannot. */
export async function ensureRuntimeConfigMap(conn: KubeConnection): Promise<string> {
  const { name, data } = runtimeConfigMap();
  const namespace = conn.namespace;
  try {
    await conn.call({ verb: 'create', resource: 'configmaps', namespace, name }, () =>
      conn.core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'cellpipe', 'cellpipe.dev/runtime': 'bundle' } }, data, immutable: true },
      }),
    );
  } catch (err) {
    // Already there: the name is the bundle's hash, so it holds this runtime.
    if (!(err instanceof KubeError && err.status === 409)) throw err;
  }
  return name;
}
