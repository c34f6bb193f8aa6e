/**
 * Names a notebook can read without any cell binding them: Python's builtins (the union over
 * CPython 3.8–3.14, so the answer does not depend on which Python runs a step) plus the names
 * IPython injects into every kernel's builtins. Reads of these never become step inputs.
 */
const PYTHON_BUILTINS = [
  // exceptions and warnings
  'ArithmeticError', 'AssertionError', 'AttributeError', 'BaseException', 'BaseExceptionGroup', 'BlockingIOError',
  'BrokenPipeError', 'BufferError', 'BytesWarning', 'ChildProcessError', 'ConnectionAbortedError', 'ConnectionError',
  'ConnectionRefusedError', 'ConnectionResetError', 'DeprecationWarning', 'EOFError', 'EncodingWarning',
  'EnvironmentError', 'Exception', 'ExceptionGroup', 'FileExistsError', 'FileNotFoundError', 'FloatingPointError',
  'FutureWarning', 'GeneratorExit', 'IOError', 'ImportError', 'ImportWarning', 'IndentationError', 'IndexError',
  'InterruptedError', 'IsADirectoryError', 'KeyError', 'KeyboardInterrupt', 'LookupError', 'MemoryError',
  'ModuleNotFoundError', 'NameError', 'NotADirectoryError', 'NotImplementedError', 'OSError', 'OverflowError',
  'PendingDeprecationWarning', 'PermissionError', 'ProcessLookupError', 'PythonFinalizationError', 'RecursionError',
  'ReferenceError', 'ResourceWarning', 'RuntimeError', 'RuntimeWarning', 'StopAsyncIteration', 'StopIteration',
  'SyntaxError', 'SyntaxWarning', 'SystemError', 'SystemExit', 'TabError', 'TimeoutError', 'TypeError',
  'UnboundLocalError', 'UnicodeDecodeError', 'UnicodeEncodeError', 'UnicodeError', 'UnicodeTranslateError',
  'UnicodeWarning', 'UserWarning', 'ValueError', 'Warning', 'ZeroDivisionError', '_IncompleteInputError',
  // constants
  'Ellipsis', 'False', 'None', 'NotImplemented', 'True', '__debug__',
  // module attributes of `builtins` that resolve from any namespace
  '__build_class__', '__doc__', '__import__', '__loader__', '__name__', '__package__', '__spec__',
  // functions and types
  'abs', 'aiter', 'all', 'anext', 'any', 'ascii', 'bin', 'bool', 'breakpoint', 'bytearray', 'bytes', 'callable', 'chr',
  'classmethod', 'compile', 'complex', 'delattr', 'dict', 'dir', 'divmod', 'enumerate', 'eval', 'exec', 'filter',
  'float', 'format', 'frozenset', 'getattr', 'globals', 'hasattr', 'hash', 'hex', 'id', 'input', 'int', 'isinstance',
  'issubclass', 'iter', 'len', 'list', 'locals', 'map', 'max', 'memoryview', 'min', 'next', 'object', 'oct', 'open',
  'ord', 'pow', 'print', 'property', 'range', 'repr', 'reversed', 'round', 'set', 'setattr', 'slice', 'sorted',
  'staticmethod', 'str', 'sum', 'super', 'tuple', 'type', 'vars', 'zip',
  // added by the `site` module
  'copyright', 'credits', 'exit', 'help', 'license', 'quit',
];

/** Added to builtins by IPython in every kernel (and by cellpipe's step runtime). */
const IPYTHON_BUILTINS = ['__IPYTHON__', 'display', 'get_ipython'];

/** Every name treated as built in; sorted. */
export const BUILTIN_NAMES: readonly string[] = [...PYTHON_BUILTINS, ...IPYTHON_BUILTINS].sort();

const builtinSet: ReadonlySet<string> = new Set(BUILTIN_NAMES);

/** True when `name` resolves to a builtin when no cell binds it. */
export function isBuiltin(name: string): boolean {
  return builtinSet.has(name);
}
