"""testcontainers' process-wide settings, as the container launcher needs them, for one start.

Two of its defaults break on machines the sandbox supports, and nobody should have to know
the TESTCONTAINERS_* variables that fix them:

- Connection mode. When /.dockerenv exists testcontainers assumes Docker-in-Docker and asks
  the engine for a gateway or bridge address (with podman: ``KeyError: 'HostConfig'``). This
  launcher always reaches Keycloak on ports published on the engine host's loopback, which is
  the ``docker_host`` mode, so that mode is set unless the user chose one.
- Its readiness wait: 120 tries a second (TC_MAX_TRIES), whatever the launcher's own
  ready timeout says. A boot on a loaded machine can take longer, so the launcher's timeout
  governs.
- Ryuk, testcontainers' reaper. Its image comes from Docker Hub; where no registry answers and
  the image is not local, every start fails with ImageNotFound. The launcher removes its own
  container on stop, so without the image Ryuk is switched off (unless the user chose).

Settings the user gave (the variables, or ~/.testcontainers.properties) always win, and the
previous values are put back afterwards, so other testcontainers users in the process are
unaffected.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sandbox.backends.keycloak.base import Progress

CONNECTION_MODE_VARIABLE = "TESTCONTAINERS_CONNECTION_MODE"
RYUK_VARIABLE = "TESTCONTAINERS_RYUK_DISABLED"
MAX_TRIES_VARIABLE = "TC_MAX_TRIES"


def ryuk_image_obtainable(client: Any, image: str) -> bool:
    """True when the engine has Ryuk's image or can pull it now."""
    import docker.errors

    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.DockerException:
        return False
    try:
        client.images.pull(image)
        return True
    except docker.errors.DockerException:
        return False


@contextmanager
def launcher_settings(progress: Progress, ready_timeout: float) -> Iterator[None]:
    from testcontainers.core.config import ConnectionMode
    from testcontainers.core.config import testcontainers_config as config

    saved_mode, saved_ryuk, saved_tries = config.connection_mode_override, config._ryuk_disabled, config.max_tries
    try:
        if config.connection_mode_override is None and not os.environ.get(CONNECTION_MODE_VARIABLE):
            config.connection_mode_override = ConnectionMode.docker_host
        if MAX_TRIES_VARIABLE not in os.environ:
            config.max_tries = max(1, math.ceil(ready_timeout / config.sleep_time))
        user_chose_ryuk = RYUK_VARIABLE in os.environ or "ryuk.disabled" in config.tc_properties
        if not config.ryuk_disabled and not user_chose_ryuk and not _ryuk_available(config.ryuk_image):
            progress(
                f"boot: Ryuk ({config.ryuk_image}) is not available here; the launcher removes its container itself"
            )
            config.ryuk_disabled = True
        yield
    finally:
        config.connection_mode_override, config._ryuk_disabled, config.max_tries = saved_mode, saved_ryuk, saved_tries


def _ryuk_available(image: str) -> bool:
    import docker

    try:
        client = docker.from_env()
    except docker.errors.DockerException:
        return False
    try:
        return ryuk_image_obtainable(client, image)
    finally:
        client.close()
