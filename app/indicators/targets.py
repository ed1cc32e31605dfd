"""Indicator targets: the district's table (附件2, docs/domain.md §7) in, per institution and year, and the
target that applies to a row out.

**Import** (``flask targets import FILE [--year N]``, :func:`import_csv`): the CSV has the shape of
``app/demo/data/huancui_2024_targets.csv`` — the first column the institution's name, then one column
per target. ``*_target_NNpct`` columns give a target count at the rate NN % (``ehr_target_90pct`` →
indicator ``ehr``, rate 0.90, count); ``htn_target_count`` / ``t2dm_target_count`` give the task
target counts (应管人数) of ``hypertension_managed`` / ``t2dm_managed``.
Base figures (service population, 65+, births …) are not targets and are skipped. Institutions are
matched by exact name; an unknown or ambiguous name, or a bad number, is an error naming it, and
nothing is written.

**Which target applies** (:func:`applicable`): for an institution's subtree, the **rate** is the
institution's own row for the year, else the indicator's default; the **count** is its own row's
count, else the sum of the counts of the top-most institutions in the subtree that have one (the
same rule as the service population: a centre's figure covers its stations).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import or_, select

from app.access.scope import get_institution
from app.errors import Invalid
from app.extensions import db
from app.indicators.catalogue import BY_KEY, DEFINITIONS, TARGET_KEYS
from app.indicators.models import IndicatorTarget
from app.indicators.scope import top_most
from app.orgs.models import Institution, subtree_ids

_PERCENT = re.compile(r"_target_(\d{1,3})pct$")
_YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")
# Columns of the seed's table that are bases, not targets.
BASE_COLUMNS = (
    "kind",
    "service_population",
    "elderly_65_plus",
    "live_births_2023",
    "newborns_2023",
    "children_0_6",
    "children_0_36m",
)


def column_map() -> dict[str, tuple[str, float | None]]:
    """CSV column → (indicator key, target rate or None for a pure count)."""
    found = {}
    for key, column in ((d.key, d.csv_column) for d in DEFINITIONS if d.csv_column):
        match = _PERCENT.search(column)
        found[column] = (key, int(match.group(1)) / 100 if match else None)
    return found


@dataclass
class ImportResult:
    year: int
    institutions: int
    created: int
    updated: int
    ignored_columns: list[str]

    @property
    def targets(self) -> int:
        return self.created + self.updated


class TargetFileError(ValueError):
    """The file cannot be imported as it is (the message says where)."""


def year_from_name(path: str | Path) -> int | None:
    found = set(_YEAR.findall(Path(path).name))
    return int(found.pop()) if len(found) == 1 else None


def parse(text: str) -> tuple[list[tuple[str, dict[str, int]]], list[str]]:
    """Rows ``(institution name, {column: count})`` and the columns that are neither targets nor bases."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise TargetFileError("the file is empty") from None
    if not header or header[0] != "institution":
        raise TargetFileError("the first column must be 'institution' (the institution's name)")
    mapping = column_map()
    target_columns = [c for c in header[1:] if c in mapping]
    if not target_columns:
        raise TargetFileError("no target column found (expected e.g. ehr_target_90pct, htn_target_count)")
    ignored = [c for c in header[1:] if c not in mapping and c not in BASE_COLUMNS]
    rows = []
    for line_no, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise TargetFileError(f"line {line_no}: {len(values)} values for {len(header)} columns")
        record = dict(zip(header, (v.strip() for v in values), strict=True))
        name = record["institution"]
        if not name:
            raise TargetFileError(f"line {line_no}: the institution name is empty")
        counts = {}
        for column in target_columns:
            raw = record[column]
            if raw == "":
                continue
            if not raw.isdigit():
                raise TargetFileError(f"line {line_no} ({name}), column {column}: {raw!r} is not a whole number ≥ 0")
            counts[column] = int(raw)
        rows.append((name, counts))
    if not rows:
        raise TargetFileError("the file has a header but no institutions")
    names = [n for n, _ in rows]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise TargetFileError("institutions listed twice: " + ", ".join(repeated))
    return rows, ignored


def import_csv(text: str, year: int, *, actor_id: int | None = None) -> ImportResult:
    """Upsert the file's targets for ``year`` (flushes; the caller commits). All or nothing."""
    if not 2000 <= year <= 2100:
        raise TargetFileError(f"year {year} is out of range")
    rows, ignored = parse(text)
    names = [n for n, _ in rows]
    found: dict[str, list[int]] = {}
    for institution_id, name in db.session.execute(
        select(Institution.id, Institution.name).where(Institution.name.in_(names))
    ):
        found.setdefault(name, []).append(institution_id)
    unknown = [n for n in names if n not in found]
    if unknown:
        raise TargetFileError("unknown institutions (matched by exact name): " + ", ".join(unknown))
    ambiguous = [n for n in names if len(found[n]) > 1]
    if ambiguous:
        raise TargetFileError("several institutions carry the name: " + ", ".join(ambiguous))
    mapping = column_map()
    wanted = {}
    for name, counts in rows:
        for column, count in counts.items():
            key, rate = mapping[column]
            wanted[(found[name][0], key)] = (rate, count)
    created, updated = _upsert(year, wanted, source="import", actor_id=actor_id)
    return ImportResult(year, len(rows), created, updated, ignored)


def import_file(path: str | Path, year: int | None = None, **kw) -> ImportResult:
    if year is None:
        year = year_from_name(path)
        if year is None:
            raise TargetFileError("the year is not in the file name: give --year")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return import_csv(handle.read(), year, **kw)


def _upsert(
    year: int, wanted: dict[tuple[int, str], tuple[float | None, int | None]], *, source: str, actor_id: int | None
) -> tuple[int, int]:
    if not wanted:
        return 0, 0
    institution_ids = sorted({i for i, _ in wanted})
    existing = {
        (t.institution_id, t.indicator): t
        for t in db.session.scalars(
            select(IndicatorTarget).where(
                IndicatorTarget.year == year,
                IndicatorTarget.institution_id.in_(institution_ids),
                IndicatorTarget.indicator.in_(sorted({k for _, k in wanted})),
            )
        )
    }
    created = updated = 0
    for (institution_id, key), (rate, count) in sorted(wanted.items()):
        row = existing.get((institution_id, key))
        if row is None:
            db.session.add(
                IndicatorTarget(
                    institution_id=institution_id,
                    year=year,
                    indicator=key,
                    target_rate=rate,
                    target_count=count,
                    source=source,
                    updated_by_id=actor_id,
                )
            )
            created += 1
        else:
            row.target_rate, row.target_count, row.source, row.updated_by_id = rate, count, source, actor_id
            updated += 1
    db.session.flush()
    return created, updated


def put(actor, body: dict) -> IndicatorTarget:
    """Create or replace one target (district admin). Fields left out are cleared."""
    key = body["indicator"]
    if key not in TARGET_KEYS:
        raise Invalid("indicator", "unknown indicator; one of: " + ", ".join(TARGET_KEYS))
    institution = get_institution(actor, body["institution_id"])
    rate, count = body.get("target_rate"), body.get("target_count")
    if rate is None and count is None:
        raise Invalid("target_rate", "give target_rate, target_count or both")
    if key in BY_KEY and BY_KEY[key].denominator == "target_count" and count is None:
        raise Invalid("target_count", "this indicator is measured against a target count")
    _upsert(body["year"], {(institution.id, key): (rate, count)}, source="api", actor_id=actor.id)
    return db.session.scalar(
        select(IndicatorTarget).where(
            IndicatorTarget.institution_id == institution.id,
            IndicatorTarget.year == body["year"],
            IndicatorTarget.indicator == key,
        )
    )


def list_targets(institution_paths: list[str] | None, year: int) -> list[IndicatorTarget]:
    stmt = (
        select(IndicatorTarget)
        .join(Institution, Institution.id == IndicatorTarget.institution_id)
        .where(IndicatorTarget.year == year)
        .order_by(Institution.code, IndicatorTarget.indicator)
    )
    if institution_paths is not None:
        stmt = stmt.where(or_(*(IndicatorTarget.institution_id.in_(subtree_ids(p)) for p in institution_paths)))
    return list(db.session.scalars(stmt))


# --- which target applies ---------------------------------------------------------------------


class TargetBook:
    """The targets of one year for the institutions of a subtree (one query)."""

    def __init__(self, institutions, year: int):
        self.institutions = list(institutions)  # Institution rows of the subtree
        ids = [i.id for i in self.institutions]
        self.rows: dict[tuple[int, str], tuple[float | None, int | None]] = {}
        if ids:
            for institution_id, key, rate, count in db.session.execute(
                select(
                    IndicatorTarget.institution_id,
                    IndicatorTarget.indicator,
                    IndicatorTarget.target_rate,
                    IndicatorTarget.target_count,
                ).where(IndicatorTarget.year == year, IndicatorTarget.institution_id.in_(ids))
            ):
                self.rows[(institution_id, key)] = (rate, count)

    def rate(self, institution_id: int, key: str) -> float | None:
        return self.rows.get((institution_id, key), (None, None))[0]

    def count(self, institution, key: str) -> int | None:
        """Own count, else the sum over the top-most institutions of the subtree that have one."""
        own = self.rows.get((institution.id, key), (None, None))[1]
        if own is not None:
            return own
        top = top_most(
            self.institutions,
            institution,
            lambda i: i.id != institution.id and self.rows.get((i.id, key), (None, None))[1] is not None,
        )
        if not top:
            return None
        return sum(self.rows[(i.id, key)][1] for i in top)
