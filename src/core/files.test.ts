/**
 * The files a step reads, found in its code (src/core/files.ts): one test per reader cellpipe recognises, the
 * ways a path is built that it resolves, and the notes for what it cannot see.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileNotebook } from './compile.js';
import type { StepFile } from './model.js';

type CellSpec = [string[], string];

/** A notebook: an imports cell, then the given cells; metadata as given. */
function notebook(cells: CellSpec[], metadata: Record<string, unknown> = {}, imports = 'import numpy as np\nimport pandas as pd'): string {
  const all: CellSpec[] = [[['imports'], imports], ...cells];
  return JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata,
    cells: all.map(([tags, source], i) => ({ cell_type: 'code', id: `c${i}`, metadata: { tags }, source, outputs: [], execution_count: null })),
  });
}

/** The files of step `s` (the first step when not given) of a one-step notebook reading with `source`. */
function filesOf(source: string, o: { imports?: string; metadata?: Record<string, unknown>; before?: CellSpec[] } = {}) {
  const r = compileNotebook(notebook([...(o.before ?? []), [['step:s'], source]], o.metadata ?? {}, o.imports));
  assert.ok(r.ok, JSON.stringify(r.diagnostics));
  const files = r.graph!.steps.find((s) => s.name === 's')!.files!;
  return { files, paths: files.map((f) => `${f.reader} ${f.path} ${f.status}`), diagnostics: r.diagnostics.filter((d) => d.code.startsWith('file-')) };
}

describe('readers cellpipe recognises', () => {
  const cases: [string, string, string?][] = [
    ["with open('data/weather.csv') as f:\n    rows = f.read()", 'open data/weather.csv travels'],
    ["import io\nrows = io.open('labels.txt', encoding='utf-8').read()", 'io.open labels.txt travels'],
    ["df = pd.read_csv('data/train.csv', sep=';')", 'pandas.read_csv data/train.csv travels'],
    ["df = pd.read_table(filepath_or_buffer='data/t.tsv')", 'pandas.read_table data/t.tsv travels'],
    ["df = pd.read_parquet('data/t.parquet')", 'pandas.read_parquet data/t.parquet travels'],
    ["df = pd.read_json(path_or_buf='data/t.json')", 'pandas.read_json data/t.json travels'],
    ["df = pd.read_excel('data/t.xlsx', sheet_name=0)", 'pandas.read_excel data/t.xlsx travels'],
    ["df = pd.read_pickle('data/t.pkl')", 'pandas.read_pickle data/t.pkl travels'],
    ["df = pd.read_feather('data/t.feather')", 'pandas.read_feather data/t.feather travels'],
    ["x = np.load('features.npy')", 'numpy.load features.npy travels'],
    ["x = np.loadtxt(fname='m.txt')", 'numpy.loadtxt m.txt travels'],
    ["x = np.genfromtxt('m.csv', delimiter=',')", 'numpy.genfromtxt m.csv travels'],
    ["x = np.fromfile('raw.bin', dtype=np.uint8)", 'numpy.fromfile raw.bin travels'],
    ["import joblib\nmodel = joblib.load('model.pkl')", 'joblib.load model.pkl travels'],
    ["import pickle\nmodel = pickle.load(open('model.pickle', 'rb'))", 'pickle.load(open(…)) model.pickle travels'],
    ["import json\nconf = json.load(open('conf.json'))", 'json.load(open(…)) conf.json travels'],
    ["from PIL import Image\nimg = Image.open('img/cat.png')", 'PIL.Image.open img/cat.png travels'],
    ["from pathlib import Path\ntext = Path('notes.md').read_text()", 'pathlib.Path.read_text notes.md travels'],
    ["from pathlib import Path\nraw = Path('blob.bin').read_bytes()", 'pathlib.Path.read_bytes blob.bin travels'],
    ["from pathlib import Path\nwith Path('a.txt').open() as f:\n    a = f.read()", 'pathlib.Path.open a.txt travels'],
  ];
  for (const [source, expected] of cases) {
    it(expected.split(' ')[0], () => assert.deepEqual(filesOf(source).paths, [expected]));
  }

  it('follows the notebook\'s own import names: aliases, from-imports, a PIL.Image imported as a module', () => {
    assert.deepEqual(filesOf("x = numpy_alias.load('a.npy')", { imports: 'import numpy as numpy_alias' }).paths, ['numpy.load a.npy travels']);
    assert.deepEqual(filesOf("x = rc('a.csv')", { imports: 'from pandas import read_csv as rc' }).paths, ['pandas.read_csv a.csv travels']);
    assert.deepEqual(filesOf("x = PIL.Image.open('a.png')", { imports: 'import PIL.Image' }).paths, ['PIL.Image.open a.png travels']);
  });

  it('is not fooled by a same-named call of another library, or by writes', () => {
    const { paths } = filesOf([
      "import yaml, tarfile",
      "with open('out.txt', 'w') as f:\n    f.write('x')",
      "open('log.txt', mode='a').close()",
      "cfg = yaml.load(stream)",
      "t = tarfile.open('x.tar')",
      "z = archive.open('member')",
    ].join('\n'));
    assert.deepEqual(paths, []);
  });

  it('leaves URLs alone: they are read the same way everywhere', () => {
    assert.deepEqual(filesOf("df = pd.read_csv('https://example.com/t.csv')").paths, []);
  });
});

describe('paths built from literals', () => {
  it('os.path.join, pathlib /, Path(a, b), +, str(…) and .format of literals resolve to one path', () => {
    const { paths } = filesOf([
      "a = pd.read_csv(os.path.join('data', 'a.csv'))",
      "b = (Path('data') / 'sub' / 'b.txt').read_text()",
      "c = np.load(Path('data', 'c.npy'))",
      "d = open('data/' + 'd.txt').read()",
      "e = pd.read_csv(str(Path('data') / 'e.csv'))",
      "f = open('{}/{}.txt'.format('data', 'f')).read()",
      "g = open('./data/../data/g.txt').read()",
    ].join('\n'), { imports: 'import os\nfrom pathlib import Path\nimport numpy as np\nimport pandas as pd' });
    assert.deepEqual(paths, [
      'pandas.read_csv data/a.csv travels', 'pathlib.Path.read_text data/sub/b.txt travels', 'numpy.load data/c.npy travels',
      'open data/d.txt travels', 'pandas.read_csv data/e.csv travels', 'open data/f.txt travels', 'open data/g.txt travels',
    ]);
  });

  it('a constant assigned once (in any cell) and a parameter\'s default resolve; the parameter read is a note', () => {
    const before: CellSpec[] = [[['pipeline-parameters'], "SOURCE = 'data/words.txt'"], [['functions'], "DATA = Path('data')"]];
    const r = filesOf("words = open(SOURCE).read()\nx = np.load(DATA / 'x.npy')", { before, imports: 'from pathlib import Path\nimport numpy as np' });
    assert.deepEqual(r.files.map((f) => [f.path, f.parameter]), [['data/words.txt', 'SOURCE'], ['data/x.npy', undefined]]);
    assert.deepEqual(r.diagnostics.map((d) => [d.severity, d.code, d.line]), [['info', 'file-read-parameter', 1]]);
  });

  it('a name assigned twice is computed, not a constant: a note, not a guess', () => {
    const r = filesOf("p = 'a.csv'\np = 'b.csv'\ndf = pd.read_csv(p)");
    assert.deepEqual(r.files, []);
    assert.deepEqual(r.diagnostics.map((d) => [d.severity, d.code, d.line]), [['info', 'file-read-unknown', 3]]);
    assert.match(r.diagnostics[0].message, /cellpipe cannot see which file this reads: pandas\.read_csv\(p\)/);
    assert.match(r.diagnostics[0].hint!, /declare it in files/);
  });

  it('an f-string with a variable part under a literal folder is a pattern; without a folder it is a note', () => {
    const r = filesOf("from PIL import Image\nfor name in names:\n    img = Image.open(f'images/{name}')\nt = open(f'{name}.txt').read()", { before: [[['step:n'], 'names = []']] });
    assert.deepEqual(r.files.map((f) => [f.path, f.pattern]), [['images/*', true]]);
    assert.deepEqual(r.diagnostics.map((d) => [d.code, d.line]), [['file-read-unknown', 4]]);
  });

  it('inside a function, a parameter of the function is computed at run time', () => {
    const r = filesOf("def load(path):\n    return pd.read_csv(path)\ndf = load('a.csv')");
    assert.deepEqual(r.files, []);
    assert.deepEqual(r.diagnostics.map((d) => [d.code, d.line]), [['file-read-unknown', 2]]);
  });
});

describe('what does not travel, and why', () => {
  it('an absolute path and a path out of the notebook\'s folder are warnings that say what to do', () => {
    const r = filesOf("a = pd.read_csv('/srv/data/a.csv')\nb = pd.read_csv('../shared/b.csv')");
    assert.deepEqual(r.files.map((f: StepFile) => [f.path, f.status]), [['/srv/data/a.csv', 'absolute'], ['../shared/b.csv', 'outside']]);
    assert.deepEqual(r.diagnostics.map((d) => [d.severity, d.code, d.line]), [['warning', 'file-read-absolute', 1], ['warning', 'file-read-outside', 2]]);
    for (const d of r.diagnostics) assert.match(d.hint!, /volume .*object storage/);
  });

  it('an absolute path under a mounted volume is brought by the volume', () => {
    const metadata = { kubeflow_notebook: { volumes: [{ name: 'data-pvc', mount_point: '/mnt/data', type: 'pvc' }] } };
    const r = filesOf("a = pd.read_csv('/mnt/data/a.csv')", { metadata });
    assert.deepEqual(r.files.map((f) => [f.path, f.status]), [['/mnt/data/a.csv', 'volume']]);
    assert.deepEqual(r.diagnostics, []);
  });

  it('"!path" in metadata.cellpipe.files leaves a detected file, a folder or a pattern out', () => {
    const metadata = { cellpipe: { files: ['!data/big.parquet', '!images', '!*.npy', 'extra.json'] } };
    const r = filesOf("a = pd.read_parquet('data/big.parquet')\nb = pd.read_csv('data/small.csv')\nc = open('images/x.png').read()\nd = np.load('f.npy')", { metadata });
    assert.deepEqual(r.files.map((f) => [f.path, f.status]), [
      ['data/big.parquet', 'excluded'], ['data/small.csv', 'travels'], ['images/x.png', 'excluded'], ['f.npy', 'excluded'],
    ]);
  });

  it('a malformed files setting or size limit is an error naming the field', () => {
    for (const cellpipe of [{ files: 'data.csv' }, { files_limit_mb: -1 }]) {
      const r = compileNotebook(notebook([[['step:s'], 'x = 1']], { cellpipe }));
      assert.equal(r.ok, false);
      assert.match(r.diagnostics.find((d) => d.severity === 'error')!.message, /metadata\.cellpipe\.files/);
    }
  });

  it('a file read in the imports or functions cells is read by every step', () => {
    const r = compileNotebook(notebook([[['functions'], "LABELS = open('labels.txt').read()"], [['step:a'], 'x = 1'], [['step:b'], 'y = 2']], {}, 'import os'));
    assert.deepEqual(r.graph!.steps.map((s) => s.files!.map((f) => f.path)), [['labels.txt'], ['labels.txt']]);
  });
});
