/**
 * The fake KFP server held to KFP itself: the same requests — the ones cellpipe's client makes, and the mistakes it
 * must be told about — go to KFP 2.17.0's own API server (`kfp-real serve`) and to the fake, and both must answer
 * with the same status codes and the same shape of body (keys and JSON kinds, recursively; error bodies also the
 * same gRPC code). Run states are compared too: the fake runs in manual mode, so nothing progresses on either.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compileNotebook } from '../../core/compile.js';
import { CANDIES } from '../../runs/testing.js';
import { FakeKfpServer } from './fake-server.js';
import { startKfpReal, type KfpRealServer } from './kfp-real.js';

type Shape = string | Shape[] | { [k: string]: Shape };

/** Keys and JSON kinds of a body; a pipeline spec is one opaque object (its contents are the uploaded spec). */
function shape(v: unknown, key = ''): Shape {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length ? [shape(v[0])] : [];
  if (typeof v === 'object') {
    if (key === 'pipeline_spec' || key === 'parameters') return 'object';
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, shape((v as Record<string, unknown>)[k], k)]));
  }
  return typeof v;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

type Call = (method: string, path: string, o?: { json?: unknown; upload?: string; token?: string }) => Promise<Answer>;

function caller(base: string): Call {
  return async (method, path, o = {}) => {
    let body: BodyInit | undefined;
    const headers: Record<string, string> = { Accept: 'application/json', ...(o.token ? { Authorization: `Bearer ${o.token}` } : {}) };
    if (o.json !== undefined) {
      body = JSON.stringify(o.json);
      headers['Content-Type'] = 'application/json';
    } else if (o.upload !== undefined) {
      const form = new FormData();
      form.append('uploadfile', new Blob([o.upload]), 'pipeline.yaml');
      body = form;
    }
    const res = await fetch(`${base}/apis/v2beta1${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = text.trim() ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { unparsed: text.slice(0, 200) };
    }
    return { status: res.status, body: parsed };
  };
}

const spec = (text: string) => compileNotebook(text, { path: 'candies_sharing.ipynb' }).yaml!;

/** The conversation, identical for both servers; ids come from each server's own answers. */
async function scenario(call: Call): Promise<{ step: string; status: number; shape: Shape; code?: unknown; state?: unknown; scheduleStatus?: unknown; mode?: unknown }[]> {
  const text = readFileSync(CANDIES, 'utf8');
  const v1 = spec(text);
  const v2 = spec(text.replace('CANDIES = 20', 'CANDIES = 22'));
  const out: { step: string; status: number; shape: Shape; code?: unknown; state?: unknown; scheduleStatus?: unknown; mode?: unknown }[] = [];
  const record = (step: string, a: Answer) => {
    out.push({
      step, status: a.status, shape: shape(a.body), ...(a.status >= 400 ? { code: a.body.code } : {}), ...(typeof a.body.state === 'string' ? { state: a.body.state } : {}),
      ...(typeof a.body.status === 'string' ? { scheduleStatus: a.body.status, mode: a.body.mode } : {}),
    });
    return a;
  };
  const filter = encodeURIComponent(JSON.stringify({ predicates: [{ operation: 'EQUALS', key: 'display_name', string_value: 'parity' }] }));
  record('healthz', await call('GET', '/healthz'));
  record('find experiment (none)', await call('GET', `/experiments?filter=${filter}&page_size=10`));
  const exp = record('create experiment', await call('POST', '/experiments', { json: { display_name: 'parity', description: 'created by cellpipe' } }));
  const expId = exp.body.experiment_id as string;
  record('create experiment again', await call('POST', '/experiments', { json: { display_name: 'parity' } }));
  record('unknown body field', await call('POST', '/experiments', { json: { display_name: 'p2', colour: 'red' } }));
  record('find experiment', await call('GET', `/experiments?filter=${filter}&page_size=10`));
  record('pipeline by name (none)', await call('GET', '/pipelines/names/parity-p'));
  const up = record('upload', await call('POST', '/pipelines/upload?name=parity-p&display_name=parity-p&description=d', { upload: v1 }));
  const pid = up.body.pipeline_id as string;
  record('upload same name', await call('POST', '/pipelines/upload?name=parity-p&display_name=parity-p&description=d', { upload: v1 }));
  record('upload_version without pipelineid', await call('POST', '/pipelines/upload_version?name=v2&display_name=v2', { upload: v2 }));
  const ver = record('upload_version', await call('POST', `/pipelines/upload_version?pipelineid=${pid}&name=v2&display_name=v2&description=d2`, { upload: v2 }));
  const vid = ver.body.pipeline_version_id as string;
  record('upload_version same name', await call('POST', `/pipelines/upload_version?pipelineid=${pid}&name=v2&display_name=v2`, { upload: v2 }));
  record('pipeline by name', await call('GET', '/pipelines/names/parity-p'));
  record('list versions', await call('GET', `/pipelines/${pid}/versions?page_size=100&sort_by=${encodeURIComponent('created_at desc')}`));
  record('get version', await call('GET', `/pipelines/${pid}/versions/${vid}`));
  const ref = { pipeline_id: pid, pipeline_version_id: vid };
  const run = record('create run', await call('POST', '/runs', {
    json: { display_name: 'r1', description: 'cellpipe run', experiment_id: expId, pipeline_version_reference: ref, runtime_config: { parameters: { CANDIES: 9 } } },
  }));
  const runId = run.body.run_id as string;
  record('create run, wrong type', await call('POST', '/runs', { json: { display_name: 'r2', experiment_id: expId, pipeline_version_reference: ref, runtime_config: { parameters: { CANDIES: 'x' } } } }));
  record('create run, unknown parameter', await call('POST', '/runs', { json: { display_name: 'r3', experiment_id: expId, pipeline_version_reference: ref, runtime_config: { parameters: { nope: 1 } } } }));
  record('get run', await call('GET', `/runs/${runId}`));
  record('list runs', await call('GET', `/runs?experiment_id=${expId}&page_size=50&sort_by=${encodeURIComponent('created_at desc')}`));
  record('get run (none)', await call('GET', '/runs/00000000-0000-0000-0000-00000000dead'));
  record('terminate', await call('POST', `/runs/${runId}:terminate`));
  record('get terminated run', await call('GET', `/runs/${runId}`));
  record('terminate again', await call('POST', `/runs/${runId}:terminate`));
  record('get experiment', await call('GET', `/experiments/${expId}`));

  // Recurring runs (schedules), as cellpipe's client makes them, and the mistakes KFP refuses.
  const sorted = `sort_by=${encodeURIComponent('created_at desc')}`;
  record('list recurring runs (none)', await call('GET', `/recurringruns?page_size=100&${sorted}`));
  const schedule = (o: Record<string, unknown> = {}) => ({
    display_name: 's1', description: 'cellpipe schedule', experiment_id: expId, pipeline_version_reference: ref, runtime_config: { parameters: { CANDIES: 4 } },
    trigger: { cron_schedule: { cron: '0 0 6 * * *', start_time: '2030-01-01T00:00:00Z' } }, max_concurrency: '2', mode: 'ENABLE', no_catchup: true, ...o,
  });
  const rr = record('create recurring run', await call('POST', '/recurringruns', { json: schedule() }));
  const rrId = rr.body.recurring_run_id as string;
  record('create recurring run, concurrency 11', await call('POST', '/recurringruns', { json: schedule({ max_concurrency: '11' }) }));
  record('create recurring run, bad cron', await call('POST', '/recurringruns', { json: schedule({ trigger: { cron_schedule: { cron: 'daily' } } }) }));
  record('create recurring run, wrong parameter type', await call('POST', '/recurringruns', { json: schedule({ runtime_config: { parameters: { CANDIES: 'x' } } }) }));
  record('create recurring run, no name', await call('POST', '/recurringruns', { json: schedule({ display_name: '' }) }));
  record('get recurring run', await call('GET', `/recurringruns/${rrId}`));
  record('list recurring runs', await call('GET', `/recurringruns?page_size=100&${sorted}`));
  record('list recurring runs of the experiment', await call('GET', `/recurringruns?experiment_id=${expId}`));
  // Made after the lists: KFP orders runs made within one second by id, so a list of several would differ by chance.
  record('create recurring run with catch-up', await call('POST', '/recurringruns', { json: schedule({ display_name: 's2', no_catchup: false }) }));
  record('create recurring run without experiment', await call('POST', '/recurringruns', { json: schedule({ display_name: 's3', experiment_id: undefined }) }));
  record('disable', await call('POST', `/recurringruns/${rrId}:disable`));
  record('get disabled', await call('GET', `/recurringruns/${rrId}`));
  record('disable again', await call('POST', `/recurringruns/${rrId}:disable`));
  record('enable', await call('POST', `/recurringruns/${rrId}:enable`));
  record('get enabled', await call('GET', `/recurringruns/${rrId}`));
  record('enable (none)', await call('POST', '/recurringruns/00000000-0000-0000-0000-00000000dead:enable'));
  record('get recurring run (none)', await call('GET', '/recurringruns/00000000-0000-0000-0000-00000000dead'));
  // What the scheduled-workflow controller makes when the cron fires: a run naming its schedule.
  const fired = record('create run of the schedule', await call('POST', '/runs', {
    json: { display_name: 'fired', experiment_id: expId, pipeline_version_reference: ref, runtime_config: { parameters: { CANDIES: 4 } }, recurring_run_id: rrId },
  }));
  record('get run of the schedule', await call('GET', `/runs/${fired.body.run_id as string}`));
  record('create run of an unknown schedule', await call('POST', '/runs', {
    json: { display_name: 'orphan', experiment_id: expId, pipeline_version_reference: ref, recurring_run_id: '00000000-0000-0000-0000-00000000dead' },
  }));
  record('delete recurring run', await call('DELETE', `/recurringruns/${rrId}`));
  record('delete it again', await call('DELETE', `/recurringruns/${rrId}`));
  record('get deleted recurring run', await call('GET', `/recurringruns/${rrId}`));
  return out;
}

/** Multi-user KFP: identity and namespaces (every request but the first with a token the fake lets into team-a). */
async function multiUserScenario(call: Call): Promise<{ step: string; status: number; shape: Shape; code?: unknown }[]> {
  const out: { step: string; status: number; shape: Shape; code?: unknown }[] = [];
  const record = (step: string, a: Answer) => {
    out.push({ step, status: a.status, shape: shape(a.body), ...(a.status >= 400 ? { code: a.body.code } : {}) });
    return a;
  };
  const token = 'tok-team-a';
  record('no identity', await call('GET', '/experiments?namespace=team-a'));
  record('healthz', await call('GET', '/healthz'));
  record('list experiments without namespace', await call('GET', '/experiments', { token }));
  record('create experiment without namespace', await call('POST', '/experiments', { json: { display_name: 'mu' }, token }));
  const exp = record('create experiment', await call('POST', '/experiments', { json: { display_name: 'mu', namespace: 'team-a' }, token }));
  record('list experiments', await call('GET', '/experiments?namespace=team-a&page_size=10', { token }));
  const up = record('upload', await call('POST', '/pipelines/upload?name=mu-p&display_name=mu-p&namespace=team-a', { upload: spec(readFileSync(CANDIES, 'utf8')), token }));
  record('pipeline by name', await call('GET', '/pipelines/names/mu-p?namespace=team-a', { token }));
  record('pipeline by name, shared', await call('GET', '/pipelines/names/mu-p', { token }));
  const versions = record('list versions', await call('GET', `/pipelines/${up.body.pipeline_id as string}/versions`, { token }));
  const vid = (versions.body.pipeline_versions as { pipeline_version_id: string }[])[0].pipeline_version_id;
  record('create run', await call('POST', '/runs', {
    json: { display_name: 'r', experiment_id: exp.body.experiment_id, pipeline_version_reference: { pipeline_id: up.body.pipeline_id, pipeline_version_id: vid }, runtime_config: { parameters: {} } }, token,
  }));
  record('list runs', await call('GET', '/runs?namespace=team-a', { token }));
  record('list runs without namespace', await call('GET', '/runs', { token }));
  record('list runs of the experiment', await call('GET', `/runs?experiment_id=${exp.body.experiment_id as string}`, { token }));
  const schedule = {
    display_name: 'mu-s', experiment_id: exp.body.experiment_id, pipeline_version_reference: { pipeline_id: up.body.pipeline_id, pipeline_version_id: vid },
    runtime_config: { parameters: {} }, trigger: { cron_schedule: { cron: '0 0 6 * * *' } }, max_concurrency: '1', mode: 'ENABLE', no_catchup: true, namespace: 'team-a',
  };
  record('create recurring run without experiment', await call('POST', '/recurringruns', { json: { ...schedule, experiment_id: undefined }, token }));
  const rr = record('create recurring run', await call('POST', '/recurringruns', { json: schedule, token }));
  record('list recurring runs', await call('GET', '/recurringruns?namespace=team-a', { token }));
  record('list recurring runs without namespace', await call('GET', '/recurringruns', { token }));
  record('disable', await call('POST', `/recurringruns/${rr.body.recurring_run_id as string}:disable`, { token }));
  record('get recurring run', await call('GET', `/recurringruns/${rr.body.recurring_run_id as string}`, { token }));
  record('delete recurring run', await call('DELETE', `/recurringruns/${rr.body.recurring_run_id as string}`, { token }));
  return out;
}

function differences<T extends { step: string }>(fromKfp: T[], fromFake: T[]): string[] {
  return fromKfp.flatMap((k, i) => {
    try {
      assert.deepEqual(fromFake[i], k);
      return [];
    } catch (err) {
      return [`step '${k.step}': the fake answers differently from KFP\n${(err as Error).message}`];
    }
  });
}

describe('parity: the fake KFP server answers as KFP 2.17.0 does', () => {
  let real: KfpRealServer;
  let fake: FakeKfpServer;
  before(async () => {
    real = await startKfpReal();
    fake = new FakeKfpServer({ progress: 'manual' });
    await fake.start();
  });
  after(async () => {
    await real?.stop();
    await fake?.close();
  });

  test('same status codes and body shapes for the client\'s requests and its mistakes', async () => {
    const fromKfp = await scenario(caller(real.url));
    const fromFake = await scenario(caller(fake.url));
    const differ = differences(fromKfp, fromFake);
    assert.deepEqual(differ, [], differ.join('\n\n'));
    assert.deepEqual(fake.violations.filter((v) => !/unknown field 'colour'|pipelineid/.test(v)), [], 'only the deliberate mistakes broke the contract');
  });

  test('multi-user: identity required, namespaces required and kept, the same answers', async () => {
    const real = await startKfpReal({ multiUser: true });
    const fake = new FakeKfpServer({ multiUser: true, progress: 'manual', tokens: { 'tok-team-a': ['team-a'] } });
    await fake.start();
    try {
      const differ = differences(await multiUserScenario(caller(real.url)), await multiUserScenario(caller(fake.url)));
      assert.deepEqual(differ, [], differ.join('\n\n'));
    } finally {
      await real.stop();
      await fake.close();
    }
  });
});
