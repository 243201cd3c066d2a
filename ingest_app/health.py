from flask import Blueprint, jsonify

from ingest_app import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    if db.ping():
        return jsonify(status="ok")
    return jsonify(status="database unavailable"), 503
