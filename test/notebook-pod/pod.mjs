// The notebook pod of scripts/test-notebook-pod.sh, as kubectl would reach it (the test cluster has no kubectl):
//   node test/notebook-pod/pod.mjs logs NAMESPACE/POD        its container's log
//   node test/notebook-pod/pod.mjs exec NAMESPACE/POD CMD…   runs CMD in it; the exit code is CMD's
//   node test/notebook-pod/pod.mjs pods NAMESPACE            a line per pod there: phase, and why a container waits
//                                                           or how it ended (what a failed test is read by)
// Uses the admin kubeconfig of the running test cluster ($CELLPIPE_K8S_KUBECONFIG).
import { PassThrough } from 'node:stream';
import { CoreV1Api, Exec, KubeConfig } from '@kubernetes/client-node';

const [what, target, ...cmd] = process.argv.slice(2);
const [namespace, name] = (target ?? '').split('/');
if (what === 'pods' && namespace) {
  const kc = new KubeConfig();
  kc.loadFromFile(process.env.CELLPIPE_K8S_KUBECONFIG);
  const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace });
  for (const p of pods.items) {
    const states = (p.status?.containerStatuses ?? []).map((c) => {
      const st = c.state?.waiting ? `waiting ${c.state.waiting.reason}: ${c.state.waiting.message ?? ''}`
        : c.state?.terminated ? `exited ${c.state.terminated.exitCode} (${c.state.terminated.reason ?? ''})` : c.state?.running ? 'running' : '?';
      return `${c.name} ${st}`.trim();
    });
    const unscheduled = (p.status?.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status !== 'True');
    console.log(`${p.metadata?.name} ${p.status?.phase} created ${p.metadata?.creationTimestamp?.toISOString?.() ?? p.metadata?.creationTimestamp}` +
      `${unscheduled ? ` unscheduled: ${unscheduled.message}` : ''} ${states.join('; ')}`);
  }
  process.exit(0);
}
if (!['logs', 'exec'].includes(what) || !namespace || !name || (what === 'exec' && !cmd.length)) {
  console.error('usage: node test/notebook-pod/pod.mjs logs|exec NAMESPACE/POD [CMD…]');
  process.exit(2);
}
const kc = new KubeConfig();
kc.loadFromFile(process.env.CELLPIPE_K8S_KUBECONFIG);
if (what === 'logs') {
  process.stdout.write(await kc.makeApiClient(CoreV1Api).readNamespacedPodLog({ name, namespace }));
  process.exit(0);
}
const out = new PassThrough();
const err = new PassThrough();
out.pipe(process.stdout);
err.pipe(process.stderr);
const status = await new Promise((resolve, reject) => {
  // The notebook's container is named after the notebook (the pod is its StatefulSet's `<name>-0`).
  new Exec(kc).exec(namespace, name, name.replace(/-0$/, ''), cmd, out, err, null, false, (s) => resolve(s)).catch(reject);
});
// A non-zero exit is reported as a Failure status whose cause names the ExitCode.
const code = status?.status === 'Success' ? 0 : Number(status?.details?.causes?.find((c) => c.reason === 'ExitCode')?.message ?? 1);
setTimeout(() => process.exit(code), 100);
