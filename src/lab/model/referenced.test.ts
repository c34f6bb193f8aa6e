import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReferencedNotebooks } from './referenced.js';
import { compileNotebook } from '../../core/compile.js';

const nb = (cells: { tags: string[]; source: string; metadata?: object }[]) => ({
  nbformat: 4, nbformat_minor: 5, metadata: {},
  cells: cells.map((c, i) => ({ cell_type: 'code', id: `c${i}`, metadata: { tags: c.tags, ...c.metadata }, source: c.source, outputs: [], execution_count: null })),
});
const pipeline = nb([{ tags: ['notebook:labels'], source: '', metadata: { notebook_path: '../shared/labels.ipynb' } }, { tags: ['step:use'], source: 'print(labels)' }]);

test('the page reads a referenced notebook once, relative to the composing notebook\'s folder, and recompiles when it arrives', async () => {
  const server: Record<string, object> = { 'shared/labels.ipynb': nb([{ tags: ['step:make'], source: 'labels = [1]' }]) };
  const asked: string[] = [];
  let changed = 0;
  const cache = new ReferencedNotebooks(async (p) => {
    asked.push(p);
    if (!server[p]) throw Object.assign(new Error('Not Found'), { response: { status: 404 } });
    return structuredClone(server[p]);
  }, () => changed++);
  const compile = () => compileNotebook(pipeline, { path: 'work/pipeline.ipynb', readNotebook: cache.reader('work/pipeline.ipynb') });

  const first = compile();
  assert.equal(first.ok, false);
  assert.match(first.diagnostics.find((d) => d.code === 'notebook-unreadable')!.message, /being read/);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([asked, changed], [['shared/labels.ipynb'], 1]);
  const second = compile();
  assert.ok(second.ok, JSON.stringify(second.diagnostics));
  assert.deepEqual(second.graph!.steps.map((s) => s.name), ['labels-make', 'use']);
  assert.equal(asked.length, 1, 'read once');

  // Saved again with another step name: read again, and the next compile has it.
  server['shared/labels.ipynb'] = nb([{ tags: ['step:build'], source: 'labels = [2]' }]);
  assert.ok(cache.has('shared/labels.ipynb'));
  cache.refresh('shared/labels.ipynb');
  await new Promise((r) => setImmediate(r));
  assert.equal(changed, 2);
  assert.deepEqual(compile().graph!.steps.map((s) => s.name), ['labels-build', 'use']);

  // Deleted: the notebook: cell says so.
  delete server['shared/labels.ipynb'];
  cache.refresh('shared/labels.ipynb');
  await new Promise((r) => setImmediate(r));
  assert.match(compile().diagnostics.find((d) => d.code === 'notebook-unreadable')!.message, /'\.\.\/shared\/labels\.ipynb', which cellpipe could not read: there is no such file/);
});
