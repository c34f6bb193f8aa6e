import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { CellOutputsAssembler, isCellOutputsLine } from './cell-outputs-log.js';

/** The lines the step runtime writes for `doc`, in chunks of `size` characters. */
function linesFor(doc: unknown, size = 10): string[] {
  const data = deflateSync(Buffer.from(JSON.stringify(doc))).toString('base64');
  const chunks = data.match(new RegExp(`.{1,${size}}`, 'g'))!;
  return chunks.map((c, i) => `[cellpipe] cell-outputs ${i + 1}/${chunks.length} ${c}`);
}

const DOC = { format: 'cellpipe.cell-outputs/v1', step: 'train', cells: { '3': { id: 'a', outputs: [{ output_type: 'stream', name: 'stdout', text: 'hi\n' }] } } };

test('numbered chunks reassemble into the outputs document once the last one came', () => {
  const a = new CellOutputsAssembler();
  const lines = linesFor(DOC);
  assert.ok(lines.length > 3 && lines.every(isCellOutputsLine));
  for (const l of lines.slice(0, -1)) assert.equal(a.accept(l), undefined);
  assert.deepEqual(JSON.parse(a.accept(lines.at(-1)!)!), DOC);
});

test('a set read again from its start (a reconnected stream, a retried step) starts over; a gap or garbage gives nothing', () => {
  const a = new CellOutputsAssembler();
  const lines = linesFor(DOC);
  a.accept(lines[0]);
  a.accept(lines[1]);
  for (const l of lines.slice(0, -1)) assert.equal(a.accept(l), undefined);
  assert.deepEqual(JSON.parse(a.accept(lines.at(-1)!)!), DOC);
  const b = new CellOutputsAssembler();
  assert.equal(b.accept(lines[0]), undefined);
  assert.equal(b.accept(lines[2]), undefined, 'chunk 2 is missing');
  assert.equal(new CellOutputsAssembler().accept('[cellpipe] cell-outputs 1/1 bm90IHpsaWI='), undefined, 'not zlib data');
  assert.equal(isCellOutputsLine('[cellpipe] step train: done'), false);
});
