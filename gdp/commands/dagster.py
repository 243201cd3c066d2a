"""`gdp dagster`: the Dagster webserver and daemon on this project's database.

DAGSTER_HOME is `<data dir>/dagster` (git-ignored, kept across restarts). Dagster's
own storage (runs, event logs, schedules, sensor cursors) goes to a `dagster`
database on the same PostgreSQL server as the data (embedded or DATABASE_URL), the
way production runs it (see docs/operations.md); compute logs stay in DAGSTER_HOME.
Both processes are children of this command: Ctrl-C stops both, and if one dies
the other is stopped too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import click

from gdp import db as gdb
from gdp.settings import REPO_ROOT, Settings, get_settings

DAGSTER_DATABASE = "dagster"
# Not Dagster's usual 3000: that is APP_BASE_URL's default, where invalid tracked links
# send visitors, and they must not land in the Dagster UI.
DEFAULT_PORT = 3070
CODE_MODULE = "orchestration.definitions"


def dagster_home(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).data_dir / "dagster"


RUN_COORDINATORS = {
    # One run at a time even for a launch from the UI; dequeued every second, not every 5 s.
    "queued": """run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 1
    dequeue_interval_seconds: 1
""",
    # Launches at once; overlap is then prevented only by the sensor, the schedule and the cycle lock.
    "default": """run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
""",
}


def instance_yaml(logs_dir: Path, coordinator: str = "queued") -> str:
    """dagster.yaml: Postgres storage from DAGSTER_PG_URL, one run at a time, local compute logs.

    The queued coordinator stays (max one run, even for a launch from the UI), but it
    dequeues every second instead of Dagster's default 5 s, which cost a sensor-launched
    run ~3.6 s of waiting in the queue (docs/operations.md, "Latency path").
    """
    return f"""# Written by `gdp dagster`; edits are overwritten on the next start.
storage:
  postgres:
    postgres_url:
      env: DAGSTER_PG_URL
{RUN_COORDINATORS[coordinator]}compute_logs:
  module: dagster._core.storage.local_compute_log_manager
  class: LocalComputeLogManager
  config:
    base_dir: {logs_dir}
run_monitoring:
  enabled: true
telemetry:
  enabled: false
"""


def workspace_yaml() -> str:
    return f"""load_from:
  - python_module:
      module_name: {CODE_MODULE}
      working_directory: {REPO_ROOT}
"""


def prepare_home(home: Path, coordinator: str = "queued") -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(instance_yaml(home / "compute_logs", coordinator))
    workspace = home / "workspace.yaml"
    workspace.write_text(workspace_yaml())
    return workspace


def sqlalchemy_url(url: str) -> str:
    """The URL with the psycopg2 driver named explicitly.

    dagster-postgres is written for psycopg2 (e.g. it sets statement_timeout in ways
    psycopg 3's server-side binding rejects), but SQLAlchemy 2.1 maps a bare
    `postgresql://` to psycopg 3; naming the driver keeps the two in step.
    """
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg2://{rest}" if scheme.startswith("postgres") else url


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 20
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()


@click.command("dagster")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
def dagster_command(host: str, port: int) -> None:
    """Run the Dagster webserver and daemon (sensor, schedule, run queue) on the embedded database."""
    from gdp.migrate import apply_migrations

    settings = get_settings()
    app = urlsplit(settings.app_base_url)
    if app.hostname in ("localhost", "127.0.0.1", host) and app.port == port:
        raise click.ClickException(
            f"port {port} is APP_BASE_URL's ({settings.app_base_url}), where invalid tracked links send visitors; "
            f"choose another --port or set APP_BASE_URL to your app"
        )
    url = gdb.database_url(settings)
    apply_migrations(url)
    dagster_url = gdb.create_database(url, DAGSTER_DATABASE)
    home = dagster_home(settings)
    workspace = prepare_home(home)

    env = dict(os.environ)
    env.update(
        {
            "DAGSTER_HOME": str(home),
            # Resolved once here so the webserver, daemon and run workers share one server.
            "DATABASE_URL": url,
            "DAGSTER_PG_URL": sqlalchemy_url(dagster_url),
        }
    )
    bin_dir = Path(sys.executable).parent
    common = ["-w", str(workspace)]
    procs = [
        subprocess.Popen([str(bin_dir / "dagster-daemon"), "run", *common], env=env, cwd=REPO_ROOT),
        subprocess.Popen(
            [str(bin_dir / "dagster-webserver"), "-h", host, "-p", str(port), *common], env=env, cwd=REPO_ROOT
        ),
    ]
    click.echo(f"Dagster UI on http://{host}:{port}  (DAGSTER_HOME={home}, data: {gdb.redact(url)})")
    # SIGTERM (a process manager, `timeout`) stops both children like Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(procs)
    failed = [proc for proc in procs if proc.returncode not in (0, -signal.SIGINT, None)]
    if failed:
        raise click.ClickException("a Dagster process exited with an error; see its output above")
