"""Saving and loading a ~100 MB DataFrame between steps: the format the step runtime picks (``artifacts.save`` /
``artifacts.load``: feather when pyarrow is importable) against pickle (what it falls back to) and parquet (what
earlier versions wrote), each written and read back in a fresh process for every round (as steps do).

usage: python bench/artifact_formats.py [--rounds R] [--json]   (PYTHONPATH must reach python/cellpipe_runtime)
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROUND = r'''
import os, sys, time, numpy as np, pandas as pd
from cellpipe_runtime import artifacts
fmt, d = sys.argv[1], sys.argv[2]
n = 1_000_000
rng = np.random.default_rng(0)
df = pd.DataFrame({f"f{i}": rng.random(n) for i in range(10)})
df["cat"] = pd.Categorical(rng.choice(["a", "b", "c"], n))
df["s"] = rng.choice(["alpha", "beta", "gamma"], n)
df["i"] = np.arange(n)
if fmt == "pickle":
    os.environ["CELLPIPE_NO_SERIALIZERS"] = "pyarrow"
t = time.perf_counter()
if fmt == "parquet":
    os.makedirs(d, exist_ok=True); df.to_parquet(os.path.join(d, "data.parquet"))
    meta = {"format": "parquet", "bytes": os.path.getsize(os.path.join(d, "data.parquet"))}
else:
    meta = artifacts.save("df", df, d)
w = time.perf_counter() - t
print(repr((meta["format"], w, meta["bytes"], int(df.memory_usage(deep=True).sum()))))
'''
READ = r'''
import os, sys, time
import pandas as pd
from cellpipe_runtime import artifacts
fmt, d = sys.argv[1], sys.argv[2]
t = time.perf_counter()
df = pd.read_parquet(os.path.join(d, "data.parquet")) if fmt == "parquet" else artifacts.load("df", d)
print(repr(time.perf_counter() - t))
'''


def main() -> int:
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("runtime", "pickle", "parquet"):
            writes, reads, size, chosen, mem = [], [], 0, fmt, 0
            for r in range(rounds):
                d = os.path.join(tmp, "%s-%d" % (fmt, r))
                out = subprocess.run([sys.executable, "-c", ROUND, fmt, d], check=True, capture_output=True, text=True)
                chosen, w, size, mem = eval(out.stdout.strip().splitlines()[-1])
                writes.append(w)
                out = subprocess.run([sys.executable, "-c", READ, fmt, d], check=True, capture_output=True, text=True)
                reads.append(float(out.stdout.strip().splitlines()[-1]))
            res[fmt] = {"format": chosen, "writeS": statistics.median(writes), "readS": statistics.median(reads),
                        "bytes": size, "frameBytes": mem}
    base = res["pickle"]["writeS"] + res["pickle"]["readS"]
    for v in res.values():
        v["totalS"] = v["writeS"] + v["readS"]
        v["overPickle"] = v["totalS"] / base
    if "--json" in sys.argv:
        print(json.dumps(res))
        return 0
    print("a %.0f MB DataFrame (10 float columns, a categorical, a string column, an int column; 1e6 rows), "
          "median of %d, each in a fresh process:" % (res["pickle"]["frameBytes"] / 1e6, rounds))
    for key, label in (("runtime", "step runtime's choice"), ("pickle", "pickle (fallback)"),
                       ("parquet", "parquet (earlier versions)")):
        v = res[key]
        print("  %-28s %-8s write %5.2f s  read %5.2f s  = %5.2f s (%.2f× pickle)  %5.0f MB on disk"
              % (label, v["format"], v["writeS"], v["readS"], v["totalS"], v["overPickle"], v["bytes"] / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main())
