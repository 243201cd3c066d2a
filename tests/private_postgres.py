"""A private PostgreSQL server a test may stop and start without disturbing others.

The shared embedded server serves every other test; outage tests need a server
of their own to kill.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
import pgserver  # noqa: E402
from pgserver.postgres_server import PostgresServer  # noqa: E402


class PrivatePostgres:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gdp-pg-", dir="/tmp"))
        self.pgdata = self.dir / "data"
        self.server = pgserver.get_server(self.pgdata, cleanup_mode="delete")
        self.url = self.server.get_uri()

    @property
    def _user(self) -> str | None:
        return "pgserver" if os.geteuid() == 0 else None

    def stop(self) -> None:
        """Fast shutdown: open connections are cut, as in a real outage."""
        pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._user)

    def start(self) -> None:
        PostgresServer._instances.pop(self.pgdata.resolve(), None)
        self.server = pgserver.get_server(self.pgdata, cleanup_mode="delete")
        assert self.server.get_uri() == self.url, "socket moved; the app's URL would be stale"

    def close(self) -> None:
        try:
            self.server.cleanup()
        finally:
            import shutil

            shutil.rmtree(self.dir, ignore_errors=True)
