"""`gdp`: the one command for everything a person runs in this project."""

from __future__ import annotations

import dataclasses
import os
import sys

import click

from gdp import db as gdb
from gdp.settings import REPO_ROOT, InvalidSetting, MissingSetting, get_settings


class _Commands(click.Group):
    """Any command: a setting that cannot be used is one line naming its variable, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InvalidSetting as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Growth Data Plane: land provider touches, build person/event/segments, activate."""


@main.group("db")
def db_group() -> None:
    """The database: DATABASE_URL, or the embedded PostgreSQL under .gdp/."""


@db_group.command("url")
def db_url() -> None:
    """Print the database URL in use, e.g. psql "$(gdp db url)"."""
    click.echo(gdb.database_url())


@db_group.command("init")
def db_init() -> None:
    """Apply supabase/migrations/*.sql in order; already applied files are skipped."""
    from gdp.migrate import apply_migrations

    url = gdb.database_url()
    result = apply_migrations(url)
    for name in result.applied:
        click.echo(f"applied  {name}")
    click.echo(f"{len(result.applied)} applied, {len(result.skipped)} already applied ({gdb.redact(url)})")


@db_group.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL under .gdp/ (it keeps running between commands); the next command starts it."""
    settings = get_settings()
    if settings.database_url:
        click.echo(f"DATABASE_URL is set ({gdb.redact(settings.database_url)}); that server is not this command's to stop")
        return
    stopped = gdb.stop_embedded(settings)
    where = gdb.embedded_data_dir(settings)
    click.echo(f"stopped the embedded PostgreSQL in {where}" if stopped else f"no embedded PostgreSQL runs in {where}")


@db_group.command("env")
def db_env() -> None:
    """Print `export` lines so plain `dbt` targets the same database: eval "$(gdp db env)"."""
    url = gdb.database_url()
    click.echo(f"export DATABASE_URL='{url}'")
    for name, value in gdb.dbt_env(url).items():
        click.echo(f"export {name}='{value}'")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="gunicorn workers (default: 2 x cores + 1)")
def serve(host: str, port: int, workers: int | None) -> None:
    """Run the ingest app under gunicorn with the production configuration."""
    from gdp.serve import run_gunicorn
    from ingest_app import check_settings, create_app

    try:
        check_settings(get_settings())
    except MissingSetting as exc:
        raise click.ClickException(str(exc)) from None
    # Resolve the embedded server once here, so workers share one URL instead of each starting it.
    os.environ["DATABASE_URL"] = gdb.database_url()
    get_settings.cache_clear()
    run_gunicorn(host, port, workers, create_app, get_settings().access_log)


@main.command("refresh")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from all of raw.")
@click.option("--quiet", is_flag=True, help="Only the summary, not dbt's own progress lines.")
@click.option("--wait", is_flag=True, help="When another cycle is running, start right after it instead of exiting.")
@click.option("--warehouse", type=click.Choice(["postgres", "spark"]), default=None,
              help="Also build the ported models on Spark (raw copied in first); default GDP_WAREHOUSE.")
def refresh(full_refresh: bool, quiet: bool, wait: bool, warehouse: str | None) -> None:
    """One pipeline cycle against the configured database (dbt build), summarized."""
    from orchestration.cycle import CycleBusy, run_cycle

    settings = get_settings()
    if warehouse:
        settings = dataclasses.replace(settings, warehouse=warehouse)
    try:
        result = run_cycle(gdb.database_url(), full_refresh=full_refresh, stream=not quiet, wait=wait, settings=settings)
    except CycleBusy as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.summary())
    if not result.ok:
        sys.exit(1)


@main.command("dbt", context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                       "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def dbt(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Run any dbt command against the configured database, e.g. gdp dbt build, gdp dbt test -s event.

    The project directory and profile are filled in; `gdp dbt build --help` shows dbt's own options.
    """
    from gdp.dbt import dbt_command, dbt_environment

    if not args or args[0] in ("-h", "--help"):
        # dbt with no sub-command would only complain about the --project-dir this command adds;
        # after a sub-command, --help is dbt's own.
        click.echo(ctx.get_help())
        return
    url = gdb.database_url()
    os.chdir(REPO_ROOT)
    os.execve(dbt_command(list(args))[0], dbt_command(list(args)), dbt_environment(url))


@main.command("demo")
@click.option("--persons", default=2000, show_default=True, help="How many people to simulate.")
@click.option("--days", default=14, show_default=True, help="Simulated days of history, ending now.")
@click.option("--seed", default=7, show_default=True, help="Same seed, same world.")
def demo(persons: int, days: int, seed: int) -> None:
    """The main job: embedded DB, real server, simulated funnels, refresh, dry-run activation, report."""
    from tools.demo import run_demo

    run_demo(persons, days, seed)


@main.command("simulate")
@click.option("--url", "base_url", default=None, help="Ingest app to send to (default: GDP_PUBLIC_BASE_URL).")
@click.option("--persons", default=2000, show_default=True, help="How many people to simulate.")
@click.option("--days", default=14, show_default=True, help="Simulated days of history, ending now.")
@click.option("--seed", default=7, show_default=True, help="Same seed, same world.")
def simulate(base_url: str | None, persons: int, days: int, seed: int) -> None:
    """Send a seeded world of both funnels through a running ingest app (`gdp serve`), signed
    with the secrets in the environment; auth.users and leads go straight to the database."""
    from tools.simulate.sender import IngestUnreachable, Sender
    from tools.simulate.world import World

    settings = get_settings()
    sender = Sender(base_url or settings.public_base_url, settings, gdb.database_url(settings), seed=seed)
    try:
        sender.preflight()
        world = World(persons=persons, days=days, seed=seed)
        world.build()
        touches = world.touches()
        with click.progressbar(length=len(touches), label="sending", show_pos=True) as bar:
            stats = sender.send_all(touches, progress=bar.update)
    except (MissingSetting, IngestUnreachable) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        sender.close()
    click.echo(f"{sum(stats.sent.values())} requests, {sum(stats.accepted.values())} accepted, "
               f"{sum(stats.duplicates.values())} redeliveries recognised, {sum(stats.failed.values())} failed")
    for error in stats.errors[:10]:
        click.echo(f"  ! {error}")
    if sum(stats.failed.values()):
        sys.exit(1)


@main.command("bench", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args: tuple[str, ...]) -> None:
    """Run the benchmarks (ingest, clicks, pipeline, identity, latency, soak) and write bench/results/latest.json.

    Options go to bench/run_all.py: --quick for a smaller scale, --only ingest,clicks for some of them.
    """
    import subprocess

    sys.exit(subprocess.call([sys.executable, "-m", "bench.run_all", *args], cwd=REPO_ROOT))


# The other areas' commands, each in its own module under gdp/commands/.
from gdp.commands.activate import activate_command  # noqa: E402
from gdp.commands.dagster import dagster_command  # noqa: E402
from gdp.commands.deals import deal_group, leads_group  # noqa: E402
from gdp.commands.latency import latency_command  # noqa: E402
from gdp.commands.links import link_command  # noqa: E402
from gdp.commands.outbox import outbox_group  # noqa: E402
from gdp.commands.person import person_group  # noqa: E402
from gdp.commands.posthog import posthog_group  # noqa: E402
from gdp.commands.segments import segments_group  # noqa: E402

for _command in (activate_command, dagster_command, deal_group, leads_group, latency_command, link_command,
                 person_group, posthog_group, segments_group, outbox_group):
    main.add_command(_command)


if __name__ == "__main__":
    main()
