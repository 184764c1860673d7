"""MCP OAuth sandbox: FastMCP's OAuth proxy with an embedded IdP, sample tools and a flow trace."""

import os

# The proxy's file store writes through aiofile, over caio, which picks io_uring with an
# SQPOLL kernel thread wherever it may (as root, or on kernels from 5.11): that thread
# busy-polls for 100 ms after every write, 120-230 ms of CPU per OAuth flow on the
# 2-core machine this was measured on, four times the sandbox's own work, and on a
# loaded machine it delays every request. caio's thread pool does the same writes for
# about 1 ms. CAIO_IMPL is caio's own switch, read once when caio is first imported,
# which is why it is set here, before any sandbox module imports the store; a value
# set by the user wins.
if not os.environ.get("CAIO_IMPL"):
    os.environ["CAIO_IMPL"] = "thread"

# py-key-value (FastMCP's token and client store) wraps its whole package in beartype through
# an import hook and type-checks every call: about an eighth of the sandbox's start-up CPU
# (issue 17) and a cost on every store read. PY_KEY_VALUE_DISABLE_BEARTYPE is the library's
# documented switch, read once when it is first imported, so it is set here too; a value set
# by the user wins (PY_KEY_VALUE_DISABLE_BEARTYPE=false keeps the checks).
os.environ.setdefault("PY_KEY_VALUE_DISABLE_BEARTYPE", "true")
