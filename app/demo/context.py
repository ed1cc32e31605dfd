"""What the demo seed's steps share: the targets table, the sites and centres built so far, and
the :class:`SeedContext` every step reads from and writes through.

Rules every step keeps:
- **Deterministic.** Randomness only from ``ctx.rng(step_name, …)`` — a private
  ``random.Random`` per step and institution, seeded from ``--seed`` — never the global
  generator, so the same seed on the same local date gives the same district, and a
  new step does not shift the numbers of the steps before it.
- **Fast.** Rows are built as dicts and inserted with bulk Core inserts in chunks
  (``ctx.insert``); primary keys come from ``ctx.allocate_ids`` so rows can refer to
  each other without a round trip.
- Demo data only: every name, number and address is made up.
"""

from __future__ import annotations

import csv
import heapq
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

import orjson
from sqlalchemy import JSON, func, insert, select, text
from sqlalchemy.types import TypeDecorator

from app.common.ids import make_id_number
from app.extensions import db

# Shipped with the package: the product never reads the planning material at run time.
TARGETS_FILE = Path(__file__).resolve().parent / "data" / "huancui_2024_targets.csv"
AREA_CODE = "371002"  # 山东省威海市环翠区
DISTRICT = "环翠区"
BUREAU_CODE = "HC00"
BUREAU_NAME = "威海市环翠区卫生健康局"
CHUNK_SIZE = 5000
RESIDENTS_PER_TEAM = 2000
# Share of a centre's households registered at the centre itself; the rest go to its
# clinics / stations (docs/domain.md §2: level 4 carries ≥ 40 % of the work).
CENTRE_SHARE = 0.4
SUB_UNIT_KIND = {
    "township_health_center": "village_clinic",
    "community_health_center": "community_health_station",
}
_TEXT_COLUMNS = ("institution", "kind")


# --- targets --------------------------------------------------------------


def load_targets(path: Path = TARGETS_FILE) -> list[dict]:
    """The district's per-institution table (docs/domain.md §7), numbers as ints, in file order."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    targets = []
    for row in rows:
        parsed = {key: (value.strip() if key in _TEXT_COLUMNS else int(value)) for key, value in row.items()}
        if parsed["kind"] not in SUB_UNIT_KIND:
            raise ValueError(f"{path.name}: unexpected institution kind {parsed['kind']!r}")
        targets.append(parsed)
    return targets


# --- what the steps share -------------------------------------------------


@dataclass
class Site:
    """An institution residents can be registered at (a centre or one of its units)."""

    id: int
    code: str
    name: str
    kind: str
    path: str
    # Roads (urban) or the village (village clinic) used for household addresses.
    places: tuple[str, ...] = ()
    town: str | None = None
    village: str | None = None


@dataclass
class Centre:
    """A level-3 institution of the CSV, with its level-4 units and teams."""

    target: dict
    site: Site
    units: list[Site] = field(default_factory=list)
    team_ids: list[int] = field(default_factory=list)
    team_leader: dict[int, int] = field(default_factory=dict)  # team id -> leader staff id

    @property
    def id(self) -> int:
        return self.site.id

    @property
    def code(self) -> str:
        return self.site.code

    @property
    def name(self) -> str:
        return self.site.name

    @property
    def kind(self) -> str:
        return self.site.kind

    @property
    def sites(self) -> list[Site]:
        return [self.site, *self.units]


class ResidentRef(NamedTuple):
    """What later steps usually need about a seeded resident, without a query."""

    id: int
    site_id: int
    team_id: int
    household_id: int
    birth_on: date
    sex: str
    married: bool


Step = Callable[["SeedContext"], None]


@dataclass
class SeedContext:
    scale: float
    seed: int
    today: date
    now: datetime
    password: str
    password_hash: str
    targets: list[dict]
    echo: Callable[[str], None] = print
    progress: bool = False
    targets_file: Path = TARGETS_FILE  # the table ``targets`` was read from (for steps that import it)
    bureau: Site | None = None
    centres: list[Centre] = field(default_factory=list)
    staff_ids: dict[str, int] = field(default_factory=dict)  # username -> id
    staff_notes: dict[str, str] = field(default_factory=dict)  # username -> role text for the summary
    residents: dict[str, list[ResidentRef]] = field(default_factory=dict)  # centre code -> refs
    conditions: dict[str, set[int]] = field(default_factory=dict)  # disease -> resident ids
    pregnant: dict[int, date] = field(default_factory=dict)  # resident id -> due date
    notes: list[str] = field(default_factory=list)  # extra lines for the closing message
    extras: dict = field(default_factory=dict)  # free space for later steps
    counts: Counter = field(default_factory=Counter)  # table -> rows inserted
    _next_id: dict[str, int] = field(default_factory=dict)
    _id_seen: set = field(default_factory=set)

    def rng(self, *parts) -> random.Random:
        """A private generator for one step (and institution): same seed, same stream."""
        return random.Random(":".join(str(part) for part in (self.seed, *parts)))

    @staticmethod
    def weighted_sample(rng: random.Random, items: list, weights: list[float], k: int) -> list:
        """k items without replacement, chance proportional to weight (Efraimidis–Spirakis); a method so
        the features' demo steps, which may not import this package, use it too."""
        if k <= 0:
            return []
        keyed = ((rng.random() ** (1.0 / w), index) for index, w in enumerate(weights))
        return [items[index] for _, index in heapq.nlargest(min(k, len(items)), keyed)]

    def scaled(self, value: float) -> int:
        return round(value * self.scale)

    def centre(self, code: str) -> Centre:
        return next(c for c in self.centres if c.code == code)

    def allocate_ids(self, model, count: int) -> range:
        """Reserve ``count`` primary keys of ``model``'s table (max(id)+1 onwards)."""
        table = model.__table__
        if table.name not in self._next_id:
            current = db.session.scalar(select(func.max(table.c.id)))
            self._next_id[table.name] = (current or 0) + 1
        start = self._next_id[table.name]
        self._next_id[table.name] = start + count
        return range(start, start + count)

    def new_id(self, model) -> int:
        return self.allocate_ids(model, 1)[0]

    def insert(self, model, rows: list[dict]) -> None:
        """Bulk load in the seed's transaction; every dict carries the same keys. PostgreSQL:
        ``COPY … FROM STDIN`` (several times faster than an executemany of INSERTs); elsewhere a
        Core executemany in chunks."""
        table = getattr(model, "__table__", model)
        if not rows:
            return
        if db.session.get_bind().dialect.name == "postgresql":
            _copy(table, rows)
        else:
            statement = insert(table)
            for start in range(0, len(rows), CHUNK_SIZE):
                db.session.execute(statement, rows[start : start + CHUNK_SIZE])
        self.counts[table.name] += len(rows)

    def use_database_ids(self, model) -> None:
        """Before a step's set-based ``INSERT … SELECT`` that lets the database number the rows: the
        table's sequence moved past the ids the seed chose itself (COPY with explicit ids leaves it
        behind on PostgreSQL); ids reserved afterwards start after whatever the database numbered."""
        table = getattr(model, "__table__", model)
        reset_sequence(table.name)
        self._next_id.pop(table.name, None)

    def id_number(self, rng: random.Random, birth_on: date, sex: str) -> str:
        """A valid GB 11643 number, unique in this seed: area, birth date, sequence parity = sex."""
        day = birth_on.toordinal() * 1000
        for _ in range(2000):
            sequence = rng.randrange(1, 500) * 2 - (1 if sex == "male" else 0)
            if day + sequence not in self._id_seen:
                self._id_seen.add(day + sequence)
                return make_id_number(AREA_CODE, birth_on, sequence)
        raise RuntimeError(f"no free ID sequence left for {birth_on}")


def reset_sequence(name: str) -> None:
    """PostgreSQL: move the table's serial/identity sequence past its largest id (nothing elsewhere)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    db.session.execute(
        text(
            "SELECT setval(pg_get_serial_sequence(:table, 'id'), "
            f'coalesce((SELECT max(id) FROM "{name}"), 1), (SELECT max(id) FROM "{name}") IS NOT NULL)'
        ),
        {"table": name},
    )


def _copy(table, rows: list[dict]) -> None:
    """COPY ``rows`` into ``table``. COPY knows nothing of the model, so what an INSERT through
    SQLAlchemy does is done here: the columns' Python-side defaults for keys the rows lack (plain
    values and no-argument functions; anything else is refused), the column types' own bind
    conversions (e.g. the UTC instants' check), and JSON columns written as JSON text — None as
    JSON ``null``, as SQLAlchemy's JSON type writes it."""
    given = list(rows[0])
    defaults = {}
    for column in table.columns:
        if column.name in given or column.default is None or column.primary_key:
            continue
        if not (column.default.is_scalar or column.default.is_callable):
            raise ValueError(f"{table.name}.{column.name}: COPY cannot apply a {column.default!r} default")
        defaults[column.name] = column.default
    names = given + list(defaults)
    dialect = db.session.get_bind().dialect
    convert = [_copy_converter(table.c[name].type, dialect) for name in names]
    raw = db.session.connection().connection.driver_connection
    columns = ", ".join(f'"{name}"' for name in names)
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            values = [row[name] for name in given]
            values.extend(d.arg if d.is_scalar else d.arg(None) for d in defaults.values())
            copy.write_row([f(v) if f else v for f, v in zip(convert, values, strict=True)])


def _copy_converter(type_, dialect):
    if isinstance(type_, JSON):
        return lambda value: orjson.dumps(value).decode()  # a sixth of json.dumps's time, a million values
    if isinstance(type_, TypeDecorator):
        return lambda value: type_.process_bind_param(value, dialect)
    return None
