"""The floor for bench/http_api.py: a bare Flask JSON endpoint, served by the same gunicorn settings as
the real app, so that the ratio real / bare shows what the API itself costs (routing, auth, queries,
serialisation, the access log) on top of gunicorn, HTTP and the load generator sharing the machine.

    gunicorn --workers 2 --bind 127.0.0.1:PORT bench.bare_app:app
"""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/bare")
def bare():
    return jsonify({"ok": True})
