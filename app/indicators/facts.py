"""Today's indicators from maintained per-resident facts plus what changed since (docs/indicators.md,
"How today's figures stay fast").

A **build** evaluates every indicator on today's date — and on the same day last year, for the
targets that are last year's rate — once per resident (:func:`app.indicators.engine.resident_bits_statement`)
and stores each resident's flags and their sums per (institution, team). The tables the indicators
read carry triggers (:mod:`app.indicators.changes`) that note each resident whose rows were written.
A count for today (:func:`count`) is then the build's sums, minus the stored flags of the residents
changed since, plus those residents evaluated live — the same definitions over the same rows, so the
numbers are exactly what the full evaluation gives (tests compare both on every change they make).

The build absorbs the changes it sees: it deletes the noted changes first, then evaluates; a write
committed in between is both evaluated and still noted (counted again live, harmless), one committed
later is still noted. The scheduler's ``indicator-facts`` job builds when the day has turned, the
catalogue changed, a change may move anyone, or more than ``INDICATOR_FACTS_REBUILD_AFTER`` residents
changed. Any other day, or too many changes (``INDICATOR_FACTS_MAX_CHANGED``), is counted live.
"""

from __future__ import annotations

import json
import time

from flask import current_app
from sqlalchemy import (
    BigInteger,
    String,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app.common.time import today
from app.extensions import db
from app.indicators import engine
from app.indicators.catalogue import DEFINITIONS
from app.indicators.engine import BITS_PER_WORD, Context, Definition, Grouping, add
from app.indicators.models import FactBuild, FactSum, IndicatorChange, ResidentFacts
from app.indicators.tuning import tune_session


def build_specs(day) -> list[tuple[Context, Definition]]:
    """Every indicator on ``day``, then last year's evaluation of those whose target needs it."""
    ctx = Context(day.year, day)
    last = ctx.last_year()
    return [(ctx, d) for d in DEFINITIONS] + [(last, d) for d in DEFINITIONS if d.target_rule == "last_year_plus"]


def layout_of(specs) -> list[str]:
    return [f"{d.key}@{c.as_of.isoformat()}" for c, d in specs]


# --- the build ------------------------------------------------------------------------------------


def refresh() -> dict:
    """The scheduler's job: build when the latest build no longer serves today (see module docs)."""
    latest = _latest()
    changed = _changed()
    specs = build_specs(today())
    reason = None
    if latest is None or latest.as_of != today():
        reason = "new day"
    elif latest.layout != layout_of(specs):
        reason = "catalogue changed"
    elif changed is None:
        reason = "a change may move anyone"
    elif len(changed) > current_app.config["INDICATOR_FACTS_REBUILD_AFTER"]:
        reason = f"{len(changed)} residents changed"
    if reason is None:
        db.session.rollback()
        return {"built": False, "changed": len(changed)}
    result = build(specs)
    return {**result, "reason": reason}


def build(specs=None) -> dict:
    """Absorb the noted changes, evaluate ``specs`` (default: today's) per resident, store the flags
    and their sums, drop the builds before; one transaction, committed here."""
    specs = specs or build_specs(today())
    if len(specs) > BITS_PER_WORD:  # the catalogue outgrew one word: keep counting live
        current_app.logger.warning("indicator facts: %d specs exceed %d bits; counted live", len(specs), BITS_PER_WORD)
        return {"built": False, "specs": len(specs)}
    started = time.perf_counter()
    tune_session()
    db.session.execute(delete(IndicatorChange))  # first: what this build absorbs (see module docs)
    row = FactBuild(as_of=specs[0][0].as_of, layout=layout_of(specs))
    db.session.add(row)
    db.session.flush()
    bits = engine.resident_bits_statement(specs).subquery("bits")
    columns = ["build_id", "resident_id", "institution_id", "team_id", "base_bits", "num_bits"]
    db.session.execute(
        insert(ResidentFacts).from_select(columns, select(literal(row.id), *(bits.c[c] for c in columns[1:])))
    )
    _write_sums(row.id, len(specs))
    db.session.execute(delete(ResidentFacts).where(ResidentFacts.build_id != row.id))
    db.session.execute(delete(FactSum).where(FactSum.build_id != row.id))
    db.session.execute(delete(FactBuild).where(FactBuild.id != row.id))
    row.residents = db.session.scalar(select(func.count()).where(ResidentFacts.build_id == row.id))
    row.seconds = round(time.perf_counter() - started, 3)
    db.session.commit()
    return {
        "built": True,
        "build": row.id,
        "as_of": row.as_of.isoformat(),
        "residents": row.residents,
        "specs": len(specs),
        "seconds": row.seconds,
    }


def _write_sums(build_id: int, size: int) -> None:
    f = ResidentFacts
    columns = []
    for k in range(size):
        columns += [func.sum(_bit(f.base_bits, k)), func.sum(_bit(f.num_bits, k))]
    rows = db.session.execute(
        select(f.institution_id, f.team_id, *columns)
        .where(f.build_id == build_id)
        .group_by(f.institution_id, f.team_id)
    ).all()
    values = [
        {
            "build_id": build_id,
            "institution_id": r[0],
            "team_id": r[1],
            "spec": k,
            "base": int(r[2 + 2 * k]),
            "numerator": int(r[3 + 2 * k]),
        }
        for r in rows
        for k in range(size)
        if r[2 + 2 * k]
    ]
    if values:
        db.session.execute(insert(FactSum), values)


# --- counting today -------------------------------------------------------------------------------


def count(grouping: Grouping, specs: list[tuple[Context, Definition]]) -> dict:
    """:func:`app.indicators.engine.count`, from the facts when they serve these specs."""
    found = count_from_facts(grouping, specs)
    return engine.count(grouping, specs) if found is None else found


def count_from_facts(grouping: Grouping, specs: list[tuple[Context, Definition]]) -> dict | None:
    """The counts of :func:`app.indicators.engine.count` from the latest build and the changes
    since, or None when the build does not serve them (another day, a spec it lacks, a change that
    may move anyone, too many changes)."""
    for _ in range(2):  # a build committed while we read: read again against it
        serving = _serving(specs)
        if serving is None:
            return None
        latest, wanted, changed = serving
        found = _sums(latest.id, grouping, wanted)
        if changed:
            stored = db.session.execute(
                select(
                    ResidentFacts.institution_id, ResidentFacts.team_id, ResidentFacts.base_bits, ResidentFacts.num_bits
                ).where(ResidentFacts.build_id == latest.id, _among(ResidentFacts.resident_id, changed))
            ).all()
            _fold(found, grouping, wanted, stored, -1)
            tune_session(few_residents=True)
            live = db.session.execute(
                engine.resident_bits_statement(specs, restrict=lambda column: _among(column, changed))
            ).all()
            _fold(found, grouping, list(range(len(specs))), [r[1:] for r in live], +1)
        if latest_build_id() == latest.id:
            return {bucket: values for bucket, values in found.items()}
    return None


def members(definition: Definition, ctx: Context, part: str):
    """The ids of the residents in ``part`` of ``definition`` at ``ctx`` — ``numerator``: counted in
    it; ``missing``: in its base, not in its numerator — from the latest build and the changes since,
    as :func:`count_from_facts` counts them: (a select of resident ids, the build's id), or None when
    the build does not serve them. The caller checks the build is still the latest after reading."""
    serving = _serving([(ctx, definition)])
    if serving is None:
        return None
    latest, (k,), changed = serving
    f = ResidentFacts
    ids = select(f.resident_id).where(f.build_id == latest.id, _in_part(f, k, part))
    if changed:
        live = engine.resident_bits_statement([(ctx, definition)], restrict=lambda c: _among(c, changed))
        live = live.subquery("live")
        ids = union_all(
            ids.where(~_among(f.resident_id, changed)), select(live.c.resident_id).where(_in_part(live.c, 0, part))
        )
    return ids, latest.id


def _serving(specs):
    """(the latest build, each spec's position in it, the residents changed since) when that build
    serves ``specs``, else None: no build, another day or a spec it lacks, a change that may move
    anyone, or more changed residents than ``INDICATOR_FACTS_MAX_CHANGED``."""
    latest = _latest()
    if latest is None or not specs:
        return None
    positions = {spec: k for k, spec in enumerate(latest.layout)}
    wanted = [positions.get(spec) for spec in layout_of(specs)]
    if None in wanted:
        return None
    changed = _changed()
    if changed is None or len(changed) > current_app.config["INDICATOR_FACTS_MAX_CHANGED"]:
        return None
    return latest, wanted, changed


def _bit(column, k: int):
    """Bit ``k`` of a flags column, 0 or 1 (a literal shift: PostgreSQL's bigint >> takes an integer)."""
    return column.op(">>")(literal_column(str(k))).op("&")(literal_column("1"))


def _in_part(columns, k: int, part: str):
    if part == "numerator":
        return _bit(columns.num_bits, k) == 1
    return and_(_bit(columns.base_bits, k) == 1, _bit(columns.num_bits, k) == 0)


def _sums(build_id: int, grouping: Grouping, wanted: list[int]) -> dict:
    asked: dict[int, list[int]] = {}  # a spec may be asked twice (the same day in two roles)
    for i, k in enumerate(wanted):
        asked.setdefault(k, []).append(i)
    rows = db.session.execute(
        select(FactSum.institution_id, FactSum.team_id, FactSum.spec, FactSum.base, FactSum.numerator).where(
            FactSum.build_id == build_id, FactSum.spec.in_(sorted(asked))
        )
    )
    found: dict = {}
    for institution_id, team_id, spec, base, numerator in rows:
        bucket = grouping.bucket_of_pair(institution_id, team_id)
        if bucket is None:
            continue
        into = found.setdefault(bucket, {})
        for i in asked[spec]:
            into[i] = add(into.get(i), (base, numerator))
    return found


def _fold(found: dict, grouping: Grouping, bits: list[int], rows, sign: int) -> None:
    """Add (``sign`` +1) or take away (-1) residents' flags: rows of (institution, team, base bits,
    numerator bits); ``bits[i]`` is spec i's bit."""
    for institution_id, team_id, base_bits, num_bits in rows:
        bucket = grouping.bucket_of_pair(institution_id, team_id)
        if bucket is None:
            continue
        into = found.setdefault(bucket, {})
        for i, k in enumerate(bits):
            if base_bits >> k & 1:
                into[i] = add(into.get(i), (sign, sign * (num_bits >> k & 1)))


def _latest() -> FactBuild | None:
    return db.session.scalar(select(FactBuild).order_by(FactBuild.id.desc()).limit(1))


def latest_build_id() -> int | None:
    return db.session.scalar(select(func.max(FactBuild.id)))


def _changed() -> list[int] | None:
    """The residents noted as changed since the latest build; None when a change may move anyone."""
    ids = db.session.scalars(select(IndicatorChange.resident_id).distinct()).all()
    return None if None in ids else ids


def _among(column, ids: list[int]):
    """``column`` is one of ``ids``, bound as ONE parameter (an array on PostgreSQL, a JSON array on
    SQLite) however many there are."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("changed_ids", value=list(ids), type_=ARRAY(BigInteger)))
    values = func.json_each(bindparam("changed_ids", value=json.dumps(list(ids)), type_=String)).table_valued("value")
    return column.in_(select(values.c.value))
