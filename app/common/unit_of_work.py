"""One unit of work per request: the one place a request's changes are committed.

Routes parse, authorise and call services; services change things and flush, never commit.
When the view has answered, this commits everything the request did in one transaction — an
answer of 400 or more rolls it all back instead, so a refused request changes nothing.
(Jobs and CLI commands commit per batch in their runner, ``app.scheduler.runner``.)

A failing commit raises here, after the view: Flask hands the exception to the JSON error
handlers (``app.errors``), so the client gets a 500/503 in the house shape, never a success
for work that was not stored.
"""

from __future__ import annotations

from flask import Flask

from app.extensions import db


def install(app: Flask) -> None:
    @app.after_request
    def _commit_or_roll_back(response):
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response
