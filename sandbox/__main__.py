import sys

from sandbox.cli import main

sys.exit(main(prog="python -m sandbox"))
