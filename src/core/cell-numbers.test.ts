/**
 * Specs: messages a person reads number cells as JupyterLab does (1-based, markdown and raw cells count), while the
 * machine-readable `cell` fields keep the 0-based index into the notebook's `cells` array.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileNotebook } from './compile.js';
import { cellLabel } from './notebook.js';

type RawCell = { cell_type: string; source: string; metadata?: { tags?: string[] } };
const notebook = (cells: RawCell[]) =>
  JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: cells.map((c) => ({ metadata: {}, outputs: [], execution_count: null, ...c })) });
const markdown = (source: string, ...tags: string[]): RawCell => ({ cell_type: 'markdown', source, metadata: { tags } });
const code = (source: string, ...tags: string[]): RawCell => ({ cell_type: 'code', source, metadata: { tags } });

test('cellLabel names the cell at index 6 "cell 7", with the line when there is one', () => {
  assert.equal(cellLabel(0), 'cell 1');
  assert.equal(cellLabel(6), 'cell 7');
  assert.equal(cellLabel(6, 2), 'cell 7, line 2');
  assert.equal(cellLabel(6, undefined), 'cell 7');
});

test('a diagnostic on the 7th cell of a notebook (markdown cells counted) says "cell 7"; its cell field is 6', () => {
  const r = compileNotebook(notebook([
    markdown('# Title'),
    code('x = 1', 'step:load'),
    markdown('## Then'),
    code('y = x + 1', 'step:add'),
    markdown('## And'),
    code('print(y)'),
    markdown('Tagged by mistake', 'step:oops'),
  ]));
  const d = r.diagnostics.find((x) => x.code === 'tag-on-markdown');
  assert.ok(d, JSON.stringify(r.diagnostics));
  assert.equal(d.cell, 6);
  assert.match(d.message, /^cell 7 is a markdown cell/);
});

test('a code cell before any tagged cell is named by its place in the notebook', () => {
  const r = compileNotebook(notebook([markdown('# Intro'), markdown('Some words'), code('setup = 1'), code('x = setup', 'step:a')]));
  const d = r.diagnostics.find((x) => x.code === 'unassigned-cell');
  assert.ok(d, JSON.stringify(r.diagnostics));
  assert.equal(d.cell, 2);
  assert.match(d.message, /^cell 3 \("setup = 1"\) comes before any tagged cell/);
});

test('a malformed 2nd cell is "cell 2" in the message and index 1 in the field', () => {
  const r = compileNotebook(JSON.stringify({ nbformat: 4, metadata: {}, cells: [{ cell_type: 'code', source: 'x = 1', metadata: {} }, 42] }));
  const d = r.diagnostics.find((x) => x.code === 'malformed-notebook');
  assert.ok(d, JSON.stringify(r.diagnostics));
  assert.equal(d.cell, 1);
  assert.equal(d.message, 'cell 2 is not a JSON object');
});
