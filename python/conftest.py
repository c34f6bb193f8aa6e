# Lets pytest import the in-tree packages (cellpipe, cellpipe_runtime) without installing them.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
