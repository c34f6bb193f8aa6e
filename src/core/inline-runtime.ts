/**
 * The step runtime carried inside a spec's container command, for specs compiled without built images: like KFP's
 * lightweight components carry their function, so the spec runs in any image with Python >= 3.9 and nothing is
 * downloaded when a step starts.
 *
 * The command is `python3 -c BOOTSTRAP`; the spec's args follow unchanged (`run --program … --param …`), so the
 * runtime sees the same argv as `python3 -m cellpipe_runtime`. The bootstrap decompresses the bundled sources and
 * imports them from memory through a meta-path finder: nothing is written to the container's disk, and a
 * read-only root filesystem works. Module files are named `/cellpipe-inline/cellpipe_runtime/*.py`, so the
 * runtime's own frames are still recognised (and hidden) in a failing step's traceback.
 *
 * Argo keeps a Workflow object of at most 1 MiB, and under KFP each step's command appears there about seven times
 * (the Workflow's arguments and their stored copy, the driver's inputs, its pod-spec patch and the executor's inputs,
 * each attempt's node again), gzip'd but incompressible: with the ~56 KB bundle inlined, Argo stops a run of more than
 * two or three steps midway. So a submission that can reach the namespace puts the bundle once into a ConfigMap named
 * after its content (`runtimeConfigMap()`), mounted into every executor by KFP's Kubernetes platform config, and the
 * command only reads it (`mountedRuntimeCommand()`): still nothing is downloaded when a step starts.
 */
import { sha256Hex } from './hash.js';
import { RUNTIME_BUNDLE } from './runtime-bundle.generated.js';

/** Where the inlined modules claim to live (no such directory exists; it names them in tracebacks). */
export const INLINE_ORIGIN = '/cellpipe-inline/';

const BOOTSTRAP = `import base64, importlib.abc, importlib.util, json, sys, zlib
_S = json.loads(zlib.decompress(base64.b64decode(@BUNDLE@)))
class _Inline(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        key = name.replace(".", "/")
        for rel, pkg in ((key + "/__init__.py", True), (key + ".py", False)):
            if rel in _S:
                return importlib.util.spec_from_loader(name, self, origin="${INLINE_ORIGIN}" + rel, is_package=pkg)
        return None
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        origin = module.__spec__.origin
        module.__file__ = origin
        exec(compile(_S[origin[${INLINE_ORIGIN.length}:]], origin, "exec", dont_inherit=True), module.__dict__)
sys.meta_path.insert(0, _Inline())
from cellpipe_runtime.runner import main
sys.exit(main())
`;

/** The executor command of a step whose image does not contain the runtime. */
export function inlineRuntimeCommand(): string[] {
  return ['python3', '-c', BOOTSTRAP.replace('@BUNDLE@', `"${RUNTIME_BUNDLE}"`)];
}

/** Where executors mount the runtime's ConfigMap, and the key (file) holding the bundle. */
export const RUNTIME_MOUNT = '/cellpipe-runtime';
export const RUNTIME_KEY = 'bundle';

/**
 * The ConfigMap holding this version of the runtime bundle: its name carries the bundle's hash, so runs of older and
 * newer cellpipe versions in one namespace each mount their own, and KFP's cache key (which covers the command and
 * the mount) changes with the runtime.
 */
export function runtimeConfigMap(): { name: string; data: Record<string, string> } {
  return { name: `cellpipe-runtime-${sha256Hex(RUNTIME_BUNDLE).slice(0, 16)}`, data: { [RUNTIME_KEY]: RUNTIME_BUNDLE } };
}

/** The executor command of a step that reads the runtime from its mounted ConfigMap (a few hundred bytes). */
export function mountedRuntimeCommand(): string[] {
  return ['python3', '-c', BOOTSTRAP.replace('@BUNDLE@', `open(${JSON.stringify(`${RUNTIME_MOUNT}/${RUNTIME_KEY}`)}).read()`)];
}
