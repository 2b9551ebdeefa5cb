"""Database stand-in: Debian's MariaDB server behaving like the official ``mysql`` image.

The entrypoint (data/standins/mariadb/docker-entrypoint.sh) honours MYSQL_ROOT_PASSWORD,
MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD (and their ``*_FILE`` secret forms) and runs
/docker-entrypoint-initdb.d/ on first start, so the course's compose file and run commands
work unchanged with either image.
"""

from __future__ import annotations

from .. import catalog, settings
from ..engine import build
from ..engine.cleanup import BASE_NOTEBOOK
from . import register


@register("database")
def build_mariadb_standin() -> str:
    from .. import resolver  # the Python stand-in is this image's Debian base

    reference = catalog.get("database").standin
    base = resolver.resolve("python").reference
    build.build(settings.DATA_DIR / "standins" / "mariadb", reference,
                build_args={"PYTHON_IMAGE": base}, owner_notebook=BASE_NOTEBOOK)
    return reference
