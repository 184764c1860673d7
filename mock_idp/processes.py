"""Whether a process still runs: the one check behind every "its writer is gone" clean-up.

Here, in the mock, because the sandbox imports the mock and never the other way round; the
state directory's temp files (``persist.py``) and the Keycloak launcher's stale runs both use it.
"""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
