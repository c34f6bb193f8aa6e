import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readMetrics, readParameters } from './literals.js';
import type { NotebookCell } from './model.js';

const cell = (source: string): NotebookCell => ({ index: 2, type: 'code', source, tags: ['pipeline-parameters'] });

test('parameters are typed by their literal: int, float, str, bool, list, dict', () => {
  const { parameters, diagnostics } = readParameters(cell(
    "n = 20\nrate = 0.5\nwhole = 3.0\nneg = -2\nsci = 1e3\nname = 'a\\tb'\nraw = r'\\d+'\nok = True\nsizes = [1, 2.5, 'x']\ncfg = {\"a\": [1, {\"b\": False}]}\n# a comment\nhexa = 0x1F",
  ));
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(parameters.map((p) => [p.name, p.type, p.default]), [
    ['n', 'int', 20], ['rate', 'float', 0.5], ['whole', 'float', 3], ['neg', 'int', -2], ['sci', 'float', 1000],
    ['name', 'str', 'a\tb'], ['raw', 'str', '\\d+'], ['ok', 'bool', true], ['sizes', 'list', [1, 2.5, 'x']],
    ['cfg', 'dict', { a: [1, { b: false }] }], ['hexa', 'int', 31],
  ]);
  assert.equal(parameters[1].line, 2);
});

test('anything but a simple literal assignment is an error pointing at its line', () => {
  const { parameters, diagnostics } = readParameters(cell("a = 1\nb = os.getcwd()\nprint(a)\nc = None\nd = (1, 2)\ne = f'{a}'\nf, g = 1, 2"));
  assert.deepEqual(parameters.map((p) => p.name), ['a']);
  assert.deepEqual(diagnostics.map((d) => d.line), [2, 3, 4, 5, 6, 7]);
  assert.ok(diagnostics.every((d) => d.severity === 'error' && d.cell === 2 && d.hint));
  assert.match(diagnostics[0].message, /parameter 'b'/);
});

test('the metrics cell lists print(name) lines only', () => {
  const ok = readMetrics({ index: 9, type: 'code', source: 'print(d1)\n\n# note\nprint( sum_result )  # total', tags: [] });
  assert.deepEqual(ok.metrics.map((m) => m.name), ['d1', 'sum_result']);
  const bad = readMetrics({ index: 9, type: 'code', source: 'print(d1)\nx = 2\nprint(d1 + 1)', tags: [] });
  assert.deepEqual(bad.diagnostics.map((d) => [d.line, d.code]), [[2, 'invalid-metric'], [3, 'invalid-metric']]);
});
