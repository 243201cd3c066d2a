"""`python -m activation [channel ...]`: one activation pass (what `gdp activate` runs)."""

import sys

from activation.runner import activate

if __name__ == "__main__":
    report = activate(channels=sys.argv[1:] or None)
    print(report.summary())
