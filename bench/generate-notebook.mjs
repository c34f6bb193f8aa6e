// A synthetic but realistic tagged notebook: `steps` steps of `cellsPerStep` code cells each, with imports,
// parameters, helper functions, loops, comprehensions, classes, f-strings, and data read from earlier steps.
export function generateNotebook(steps = 100, cellsPerStep = 10) {
  const cells = [];
  const code = (source, tags = []) => cells.push({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null });
  code('import math\nimport json\nimport statistics\nfrom collections import Counter, defaultdict', ['imports']);
  code('LEARNING_RATE = 0.01\nEPOCHS = 5\nDATASET = "train.csv"\nLAYERS = [64, 32]', ['pipeline-parameters']);
  code('def normalise(values):\n    top = max(values) or 1\n    return [v / top for v in values]\n\ndef summary(values):\n    return {"mean": statistics.mean(values), "n": len(values)}', ['functions']);
  for (let s = 0; s < steps; s++) {
    const prev = s > 0 ? `features_${s - 1}` : null;
    const prev2 = s > 1 ? `model_${s - 2}` : null;
    for (let c = 0; c < cellsPerStep; c++) {
      const tags = c === 0 ? [`step:stage-${s}`, ...(s > 0 ? [`prev:stage-${s - 1}`] : [])] : [];
      let source;
      switch (c % 5) {
        case 0:
          source = `# stage ${s}: load\nraw_${s} = ${prev ? `[x * 2 for x in ${prev}]` : 'list(range(1000))'}\ncounts_${s} = Counter(v % 7 for v in raw_${s})\nprint(f"stage ${s}: {len(raw_${s})} rows, {len(counts_${s})} buckets")`;
          break;
        case 1:
          source = `def transform_${s}_${c}(values, rate=LEARNING_RATE):\n    out = []\n    for i, v in enumerate(values):\n        if i % 2 == 0:\n            out.append(v * rate + math.sqrt(abs(v)))\n        else:\n            out.append(v - rate)\n    return out\n\ntransformed_${s} = transform_${s}_${c}(raw_${s})`;
          break;
        case 2:
          source = `class Model${s}${c}:\n    def __init__(self, layers=LAYERS):\n        self.layers = list(layers)\n        self.weights = defaultdict(float)\n\n    def fit(self, xs):\n        for epoch in range(EPOCHS):\n            for j, x in enumerate(xs[:50]):\n                self.weights[j % len(self.layers)] += x / (epoch + 1)\n        return self\n\nmodel_${s} = Model${s}${c}().fit(transformed_${s})`;
          break;
        case 3:
          source = `stats_${s} = summary(normalise(transformed_${s}))\nbest = max(stats_${s}.values()) if stats_${s} else 0\nreport_${s} = json.dumps({"stage": ${s}, **stats_${s}, "best": best${prev2 ? `, "previous": len(${prev2}.weights)` : ''}})\nwith open("/dev/null", "w") as sink:\n    sink.write(report_${s})`;
          break;
        default:
          source = `features_${s} = [round(w, 3) for w in model_${s}.weights.values()] + [s for s in (raw_${s}[:5])]\nassert (n := len(features_${s})) > 0, f"empty features at stage ${s}: {n}"\ntry:\n    ratio = sum(features_${s}) / n\nexcept ZeroDivisionError as err:\n    ratio = 0.0\nlambda_score = (lambda k: k * ratio)(2)`;
      }
      code(source, tags);
    }
  }
  code(`print(report_${steps - 1})`, ['pipeline-metrics']);
  return { cells, metadata: { kubeflow_notebook: { pipeline_name: 'generated' } }, nbformat: 4, nbformat_minor: 5 };
}
