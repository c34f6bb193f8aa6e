// Runs cellpipe's TypeScript name analysis (the compiled lib/) over many cells in one process, for the oracle test.
// stdin: JSON array of cell sources. stdout: {"builtins": [...], "results": [CellNames, ...]} in the same order.
import { analyzeCell } from '../../lib/core/python/analyze.js';
import { BUILTIN_NAMES } from '../../lib/core/python/builtins.js';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const sources = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const results = sources.map((source) => analyzeCell(source));
process.stdout.write(JSON.stringify({ builtins: BUILTIN_NAMES, results }));
