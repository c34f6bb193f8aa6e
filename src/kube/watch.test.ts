/**
 * List-then-watch against the real API server: watches that the server ends (timeoutSeconds) are re-opened from the
 * last resource version, so every change is seen exactly once. Run through `bash scripts/test-k8s.sh`.
 */
import { getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { SKIP_NO_CLUSTER, freshNamespace, testCluster, waitFor } from './testing.js';
import { watchObjects } from './watch.js';

const cluster = testCluster();

describe('watching a collection', { skip: cluster ? false : SKIP_NO_CLUSTER, timeout: 60_000 }, () => {
  test('changes made across several server-side watch expiries are each seen once, in order', async () => {
    const ns = await freshNamespace(cluster!, 'watch');
    const controller = new AbortController();
    try {
      await ns.conn.core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: 'before' } } });
      const events: string[] = [];
      let watches = 0;
      const done = watchObjects<V1ConfigMap>({
        conn: ns.conn,
        path: `/api/v1/namespaces/${ns.name}/configmaps`,
        resource: 'configmaps',
        timeoutSeconds: 1,
        signal: controller.signal,
        onWatchStart: () => void watches++,
        onEvent: (type, cm) => {
          if (cm.metadata?.name !== 'kube-root-ca.crt') events.push(`${type} ${cm.metadata?.name}`);
        },
      });
      await waitFor('initial list', async () => events.includes('ADDED before'));
      for (let i = 0; i < 4; i++) {
        await ns.conn.core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: `cm-${i}` } } });
        await new Promise((r) => setTimeout(r, 900));
      }
      await ns.conn.core.deleteNamespacedConfigMap({ namespace: ns.name, name: 'cm-0' });
      await waitFor('the deletion', async () => events.includes('DELETED cm-0'));
      // Each re-watch took its abort listener off the caller's signal: at most the open request's one is left.
      assert.ok(getEventListeners(controller.signal, 'abort').length <= 1, `${getEventListeners(controller.signal, 'abort').length} abort listeners after ${watches} watches`);
      controller.abort();
      await done;
      assert.deepEqual(events, ['ADDED before', 'ADDED cm-0', 'ADDED cm-1', 'ADDED cm-2', 'ADDED cm-3', 'DELETED cm-0']);
      assert.ok(watches >= 3, `the watch was re-opened after each expiry (${watches} watches)`);
    } finally {
      controller.abort();
      await ns.dispose();
    }
  });
});
