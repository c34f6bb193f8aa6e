/**
 * Settings other components keep in the profile's namespace, read by name: a Secret's keys (KFP's object store
 * access key) and a ConfigMap's value (KFP's launcher settings). Secret values are returned to the caller only,
 * never put into a message.
 */
import type { KubeConnection } from './connect.js';
import { KubeError } from './errors.js';

/** The decoded values of `keys` in Secret `name`; throws a KubeError naming the Secret and the key that is missing. */
export async function readSecretValues<K extends string>(conn: KubeConnection, name: string, keys: readonly K[]): Promise<Record<K, string>> {
  const secret = await conn.call({ verb: 'get', resource: 'secrets', namespace: conn.namespace, name }, () =>
    conn.core.readNamespacedSecret({ name, namespace: conn.namespace }),
  );
  const out = {} as Record<K, string>;
  for (const key of keys) {
    const encoded = secret.data?.[key];
    const value = encoded === undefined ? secret.stringData?.[key] : Buffer.from(encoded, 'base64').toString('utf8');
    if (!value) {
      throw new KubeError('not-found', `Secret ${conn.namespace}/${name} has no key '${key}'`, `the Secret must hold the keys ${keys.join(', ')}`);
    }
    out[key] = value;
  }
  return out;
}

/** One value of ConfigMap `name`; undefined when the ConfigMap or the key is not there. */
export async function readConfigMapValue(conn: KubeConnection, name: string, key: string): Promise<string | undefined> {
  try {
    const cm = await conn.call({ verb: 'get', resource: 'configmaps', namespace: conn.namespace, name }, () =>
      conn.core.readNamespacedConfigMap({ name, namespace: conn.namespace }),
    );
    return cm.data?.[key];
  } catch (err) {
    if (err instanceof KubeError && err.kind === 'not-found') return undefined;
    throw err;
  }
}
