"""`python -m activation [channel ...]`: one activation pass (what `gdp activate` runs), progress on stderr."""

import sys
import time

from activation.runner import ActivationError, activate

if __name__ == "__main__":
    started = time.monotonic()
    try:
        report = activate(
            channels=sys.argv[1:] or None,
            progress=lambda message: print(f"[{time.monotonic() - started:6.2f}s] {message}", file=sys.stderr, flush=True),
        )
    except ActivationError as exc:
        print(exc.report.summary())
        sys.exit(f"stopped: {exc}")
    print(report.summary())
