"""The yardstick for the ingest benchmark: a Flask app that only inserts the body.

Same server (gunicorn, same workers), same database, same pool settings as the
real app, but no signature check, no parsing, no idempotency key. The real
app's throughput divided by this one's is a ratio that holds across machines.
"""

from __future__ import annotations

import os

from flask import Flask, request
from psycopg_pool import ConnectionPool

app = Flask(__name__)
pool = ConnectionPool(os.environ["DATABASE_URL"], min_size=1, max_size=8, open=True)


@app.post("/webhooks/resend")
def land():
    with pool.connection() as conn:
        conn.execute("insert into bench_bare_landing (body) values (%s)", (request.get_data(as_text=True),))
    return {"ok": True}
