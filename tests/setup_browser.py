"""Make sure Debian's `chromium` is installed for the browser snippet test.

`make test` runs this before pytest. Playwright's own `playwright install` downloads
a browser build from the internet, which a closed network refuses; Debian's package
comes through apt like any other package. Quick and silent when the binary exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

CHROMIUM = "/usr/bin/chromium"


def _apt(*args: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", *args]
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            raise SystemExit(f"{CHROMIUM} is missing and installing it needs root: run `apt-get install -y chromium` as root")
        command = ["sudo", "-E", *command]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)


def ensure_chromium() -> str:
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if not shutil.which("apt-get"):
        raise SystemExit(f"{CHROMIUM} is missing and this system has no apt-get: install Chromium there by hand")
    print(f"setup_browser: {CHROMIUM} missing, installing Debian's chromium (apt-get)", file=sys.stderr)
    _apt("update", "-q")
    _apt("install", "-y", "-q", "--no-install-recommends", "chromium")
    if not os.access(CHROMIUM, os.X_OK):
        raise SystemExit(f"apt-get finished but {CHROMIUM} is still missing")
    return CHROMIUM


if __name__ == "__main__":
    ensure_chromium()
