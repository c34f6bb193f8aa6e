import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeCell, analyzeCellUncached } from './analyze.js';

/** Shorthand: the cell's lines joined. */
const cell = (...lines: string[]) => lines.join('\n');
const definitionsOf = (source: string) =>
  Object.fromEntries(analyzeCell(source).definitions.map((d) => [d.name, d.freeNames]));

describe('analyzeCell: names a cell binds at module level', () => {
  it('binds assignment targets, including tuple, list and starred targets and chained assignments', () => {
    const names = analyzeCell(cell('a, *b = c = f(x)', '(p, [q, *r]) = s'));
    assert.deepEqual(names.bound, ['a', 'b', 'c', 'p', 'q', 'r']);
  });

  it('binds augmented and annotated assignments, but not a bare annotation', () => {
    assert.deepEqual(analyzeCell(cell('x += 1', 'y: int = 2', 'z: int')).bound, ['x', 'y']);
  });

  it('binds walrus targets, also from inside a comprehension, but not the comprehension variables', () => {
    const names = analyzeCell(cell('if (n := len(rows)) > 3:', '    pass', 'any((hit := r) for r in rows)'));
    assert.deepEqual(names.bound, ['hit', 'n']);
  });

  it('binds for, with, except and import targets, and def/class names', () => {
    const names = analyzeCell(cell(
      'import os.path, numpy as np',
      'from m import a as b, c',
      'for i, j in pairs: pass',
      'with open(p) as fh: pass',
      'try: pass',
      'except Exception as err: pass',
      'def f(): pass',
      'class C: pass',
    ));
    assert.deepEqual(names.bound, ['C', 'b', 'c', 'err', 'f', 'fh', 'i', 'j', 'np', 'os']);
  });

  it('binds match-case captures but not the wildcard, and reads value patterns', () => {
    const names = analyzeCell(cell(
      'match cmd:',
      '    case [action, *rest]: pass',
      '    case Point(x=0, y=yy) as p: pass',
      '    case Color.RED: pass',
      '    case _: pass',
    ));
    assert.deepEqual(names.bound, ['action', 'p', 'rest', 'yy']);
    assert.deepEqual(names.reads, ['Color', 'Point', 'cmd']);
  });

  it('binds names a function declares global and assigns; `del` binds nothing', () => {
    const names = analyzeCell(cell('def setup():', '    global config', '    config = {}', 'del old'));
    assert.deepEqual(names.bound, ['config', 'setup']);
    assert.deepEqual(names.reads, ['old']);
  });
});

describe('analyzeCell: names a cell reads from earlier cells', () => {
  it('reads names loaded before the cell binds them, right-hand side first', () => {
    assert.deepEqual(analyzeCell(cell('x = x + 1', 'y = x * 2', 'z += 1')).reads, ['x', 'z']);
  });

  it('does not report builtins or IPython globals', () => {
    assert.deepEqual(analyzeCell('print(len(data), display, get_ipython)').reads, ['data']);
  });

  it('reads decorators, default values, annotations and base classes at definition time, not bodies', () => {
    const names = analyzeCell(cell(
      '@register(registry)',
      'def f(a, b=default_b, *, c: CType = 1) -> RType:',
      '    return a + body_only',
      'class C(Base, metaclass=Meta):',
      '    scale = factor',
    ));
    assert.deepEqual(names.reads, ['Base', 'CType', 'Meta', 'RType', 'default_b', 'factor', 'register', 'registry']);
  });

  it('gives comprehensions their own scope: the first iterable is read outside, targets do not leak', () => {
    const names = analyzeCell(cell('squares = [x * k for x in xs if x > cut]', 'print(x)'));
    assert.deepEqual(names.reads, ['cut', 'k', 'x', 'xs']);
    assert.deepEqual(names.bound, ['squares']);
  });

  it('reads the global names of an anonymous lambda where it is created', () => {
    assert.deepEqual(analyzeCell('rows.sort(key=lambda r: r[column])').reads, ['column', 'rows']);
  });

  it('reads names in f-string replacement fields and format specs', () => {
    assert.deepEqual(analyzeCell('msg = f"{name!r:>{width}} {value=}"').reads, ['name', 'value', 'width']);
  });

  it('evaluates a class body now: names it binds shadow globals only after they are bound', () => {
    const names = analyzeCell(cell('class Late:', '    y = x', '    x = 2', '    z = x'));
    assert.deepEqual(names.reads, ['x']);
  });
});

describe('analyzeCell: definitions and the module names their bodies read', () => {
  it('lists the global names a function body reads: not parameters, locals, builtins or enclosed names', () => {
    const defs = definitionsOf(cell(
      'def outer(a):',
      '    local = a + g1',
      '    def inner():',
      '        nonlocal local',
      '        local = local + g2',
      '    return len(inner) + g3',
    ));
    assert.deepEqual(defs, { outer: ['g1', 'g2', 'g3'] });
  });

  it('reports `name = lambda …` as a definition of name', () => {
    assert.deepEqual(definitionsOf('f = g = lambda v, w=dflt: v + w + other'), { f: ['other'], g: ['other'] });
    assert.deepEqual(analyzeCell('f = lambda v, w=dflt: v + w + other').reads, ['dflt']);
  });

  it('attributes methods to their class; class attributes are not visible inside methods', () => {
    const defs = definitionsOf(cell(
      'class Model:',
      '    scale = factor',
      '    def predict(self, x):',
      '        return x * scale + bias',
    ));
    assert.deepEqual(defs, { Model: ['bias', 'factor', 'scale'] });
  });

  it('resolves names inside comprehensions and nested classes of a function with Python\'s rules', () => {
    const defs = definitionsOf(cell(
      'def pick(rows):',
      '    return [r[col] for r in rows if r[col] > threshold]',
    ));
    assert.deepEqual(defs, { pick: ['col', 'threshold'] });
  });
});

describe('analyzeCell: what it cannot see through', () => {
  it('reports star imports and globals()/locals()/vars()/exec/eval with their line', () => {
    const names = analyzeCell(cell('from pylab import *', 'g = globals()', 'v = vars(obj)', 'w = vars()', 'exec(code)', 'df.eval("a")'));
    assert.deepEqual(names.opaque.map((o) => [o.line, o.kind]), [[1, 'star-import'], [2, 'globals'], [4, 'vars'], [5, 'exec']]);
    assert.equal(names.opaque[0].text, 'from pylab import *');
  });
});

describe('analyzeCell: IPython magics and shell escapes', () => {
  it('records %line magics and !shell lines and analyses the rest of the cell', () => {
    const names = analyzeCell(cell('%matplotlib inline', 'import pandas as pd', '!pip install x \\', '    y', 'df = pd.read_csv(path)'));
    assert.deepEqual(names.magicLines, [1, 3, 4]);
    assert.deepEqual(names.bound, ['df', 'pd']);
    assert.deepEqual(names.reads, ['path']);
    assert.deepEqual(names.syntaxErrors, []);
  });

  it('binds the target of `x = !cmd` and `x = %magic`', () => {
    const names = analyzeCell(cell('files = !ls {folder}', 't = %timeit -o f()', 'n = 5 % m'));
    assert.deepEqual(names.bound, ['files', 'n', 't']);
    assert.deepEqual(names.reads, ['m']);
    assert.deepEqual(names.magicLines, [1, 2]);
  });

  it('makes a cell magic opaque as a whole, except %%time and %%capture whose bodies are Python', () => {
    const bash = analyzeCell(cell('%%bash', 'x=1', 'echo $x'));
    assert.deepEqual([bash.bound, bash.reads, bash.magicLines], [[], [], [1, 2, 3]]);
    const timed = analyzeCell(cell('%%time', 'result = slow(x)'));
    assert.deepEqual([timed.bound, timed.reads, timed.magicLines], [['result'], ['slow', 'x'], [1]]);
    const captured = analyzeCell(cell('%%capture --no-stderr out', '!pip install x', 'import x'));
    assert.deepEqual([captured.bound, captured.magicLines], [['out', 'x'], [1, 2]]);
  });

  it('does not mistake % or ! inside strings or brackets for magics', () => {
    const names = analyzeCell(cell('s = """', '%not magic', '"""', 'z = (', '!x', ')'));
    assert.deepEqual(names.magicLines, []);
    assert.equal(names.syntaxErrors.length, 1);
    assert.equal(names.syntaxErrors[0].line, 5);
  });

  it('ignores an indent shared by the whole cell, as IPython does', () => {
    const names = analyzeCell(cell('    a = b', '    c = a'));
    assert.deepEqual([names.bound, names.reads, names.syntaxErrors], [['a', 'c'], ['b'], []]);
  });
});

describe('analyzeCell: syntax errors', () => {
  it('reports the line and column of a syntax error', () => {
    const names = analyzeCell(cell('x = 1', 'y = (2,', '', 'def f(:', '    pass'));
    assert.ok(names.syntaxErrors.length >= 1);
    assert.equal(names.syntaxErrors[0].line, 4);
    assert.match(names.syntaxErrors[0].message, /invalid syntax/);
  });

  it('accepts float literals with a trailing dot, which @lezer/python 1.1.19 rejects', () => {
    const names = analyzeCell('angle = (2. * np.pi / 360) * 1.e3');
    assert.deepEqual([names.syntaxErrors, names.reads, names.bound], [[], ['np'], ['angle']]);
  });

  it('accepts other valid Python the grammar misses: bare yield, starred comprehension targets, parenthesized with', () => {
    for (const source of [
      cell('def gen():', '    got = yield', '    yield'),
      'heads = [h for h, *tail in rows]',
      cell('with (open(a) as fa, open(b) as fb):', '    pass'),
      cell('match p:', '    case Point(): pass', '    case {}: pass'),
    ]) {
      assert.deepEqual(analyzeCell(source).syntaxErrors, [], source);
    }
  });

  it('reports what Python rejects although the grammar accepts it', () => {
    const problems = (source: string) => analyzeCell(source).syntaxErrors.map((e) => e.message);
    assert.match(problems('print "hi"')[0], /Missing parentheses in call to 'print'/);
    assert.match(problems('f(x) = 3')[0], /cannot assign to function call/);
    assert.match(problems('a, b += 1')[0], /illegal expression for augmented assignment/);
    assert.match(problems('f(a=1, b)')[0], /positional argument follows keyword argument/);
    assert.match(problems('def f(a=1, b): pass')[0], /non-default argument follows default argument/);
    assert.match(problems('mode = 0777')[0], /leading zeros/);
    assert.match(problems('x = 1\n  y = 2')[0], /unexpected indent/);
  });

  it('never throws, whatever the input', () => {
    for (const source of ['', '\n\n', ')))', 'def', '"""', '%%', '!', 'x = !', 'lambda: (', '\t\tif x:\n  y', 'class\u00a0']) {
      assert.doesNotThrow(() => analyzeCell(source), JSON.stringify(source));
    }
  });
});

describe('analyzeCell: memoised results', () => {
  it('returns the same frozen result for the same source, equal to a fresh analysis', () => {
    const source = cell('import numpy as np', 'v = np.ones(n)');
    const first = analyzeCell(source);
    assert.equal(analyzeCell(source), first);
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.reads));
    assert.deepEqual(first, analyzeCellUncached(source));
  });
});
