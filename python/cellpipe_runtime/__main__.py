"""``python3 -m cellpipe_runtime``: see the package docstring."""
import sys

from cellpipe_runtime.runner import main

if __name__ == "__main__":
    sys.exit(main())
