"""The demo district: 环翠区 as planned in seed 002 (2024), at any scale.

The seed is a list of named steps (:data:`STEPS`); each step is a function taking the
shared :class:`SeedContext`. Later features append their own steps (contracts,
follow-ups, surveys …) with :func:`register_step`; a step reads what earlier steps
built from the context (institutions, teams, staff ids, lightweight resident
references) or from the database, and writes with :meth:`SeedContext.insert`.

Rules every step keeps:
- **Deterministic.** Randomness only from ``ctx.rng(step_name, …)`` — a private
  ``random.Random`` per step and institution, seeded from ``--seed`` — never the global
  generator, so the same seed on the same local date gives the same district, and a
  new step does not shift the numbers of the steps before it.
- **Fast.** Rows are built as dicts and inserted with bulk Core inserts in chunks
  (``ctx.insert``); primary keys come from ``ctx.allocate_ids`` so rows can refer to
  each other without a round trip. After the last step each table's sequence is
  moved past the ids used (PostgreSQL), and the whole seed commits once: a failed
  seed leaves the database as it found it.
- Demo data only: every name, number and address is made up.
"""
from __future__ import annotations

import csv
import heapq
import importlib
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from time import perf_counter
from typing import Callable, NamedTuple

from flask import current_app
from sqlalchemy import bindparam, func, insert, select, text, update

from app.accounts.models import Staff
from app.accounts.services import hash_password
from app.common import time as clock
from app.common.ids import make_id_number, vault
from app.demo import names
from app.extensions import db
from app.orgs.models import INSTITUTION_KINDS, Institution, Team, TeamMember
from app.residents.models import Condition, Household, Resident

log = logging.getLogger(__name__)

# Shipped with the package: the product never reads the planning material at run time.
TARGETS_FILE = Path(__file__).resolve().parent / "data" / "huancui_2024_targets.csv"
AREA_CODE = "371002"  # 山东省威海市环翠区
DISTRICT = "环翠区"
BUREAU_CODE = "HC00"
BUREAU_NAME = "威海市环翠区卫生健康局"
CHUNK_SIZE = 5000
RESIDENTS_PER_TEAM = 2000
# Share of a centre's households registered at the centre itself; the rest go to its
# clinics / stations (seed 002: level 4 carries ≥ 40 % of the work).
CENTRE_SHARE = 0.4
SUB_UNIT_KIND = {
    "township_health_center": "village_clinic",
    "community_health_center": "community_health_station",
}
_TEXT_COLUMNS = ("institution", "kind")


# --- targets --------------------------------------------------------------

def load_targets(path: Path = TARGETS_FILE) -> list[dict]:
    """Seed 002's per-institution table, numbers as ints, in file order."""
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
        """Bulk Core insert (executemany) in chunks; every dict carries the same keys."""
        table = getattr(model, "__table__", model)
        statement = insert(table)
        for start in range(0, len(rows), CHUNK_SIZE):
            db.session.execute(statement, rows[start:start + CHUNK_SIZE])
        self.counts[table.name] += len(rows)

    def id_number(self, rng: random.Random, birth_on: date, sex: str) -> str:
        """A valid GB 11643 number, unique in this seed: area, birth date, sequence parity = sex."""
        day = birth_on.toordinal() * 1000
        for _ in range(2000):
            sequence = rng.randrange(1, 500) * 2 - (1 if sex == "male" else 0)
            if day + sequence not in self._id_seen:
                self._id_seen.add(day + sequence)
                return make_id_number(AREA_CODE, birth_on, sequence)
        raise RuntimeError(f"no free ID sequence left for {birth_on}")


# --- step 1: organisation -------------------------------------------------

def build_organisation(ctx: SeedContext) -> None:
    """The bureau, the CSV's ten centres (HC01…), and 2–4 clinics or stations under each."""
    unit_counts = [ctx.rng("organisation", index).randint(2, 4) for index in range(len(ctx.targets))]
    ids = iter(ctx.allocate_ids(Institution, 1 + len(ctx.targets) + sum(unit_counts)))
    rows = []

    def add(code, name, kind, parent: Site | None, population=0, **extra) -> Site:
        site_id = next(ids)
        path = f"{parent.path if parent else '/'}{site_id}/"
        rows.append(dict(id=site_id, code=code, name=name, kind=kind, level=INSTITUTION_KINDS[kind],
                         parent_id=parent.id if parent else None, path=path,
                         service_population=population, created_at=ctx.now))
        return Site(id=site_id, code=code, name=name, kind=kind, path=path, **extra)

    ctx.bureau = add(BUREAU_CODE, BUREAU_NAME, "district_bureau", None,
                     sum(t["service_population"] for t in ctx.targets))
    for index, (target, unit_count) in enumerate(zip(ctx.targets, unit_counts), start=1):
        rng = ctx.rng("organisation", "units", index)
        name, kind = target["institution"], target["kind"]
        code = f"HC{index:02d}"
        town = names.town_of(name)
        if kind == "township_health_center" and town:
            centre_site = add(code, name, kind, ctx.bureau, target["service_population"],
                              places=town[1], town=town[0])
        else:
            centre_site = add(code, name, kind, ctx.bureau, target["service_population"])
        centre = Centre(target=target, site=centre_site)
        unit_kind = SUB_UNIT_KIND[kind]
        if unit_kind == "village_clinic":
            town_name = town[0] if town else names.short_name(name)
            for n, village in enumerate(rng.sample(names.villages_for(name, 8), unit_count), start=1):
                centre.units.append(add(f"{code}-{n:02d}", f"{town_name}{village}村卫生室", unit_kind,
                                        centre_site, town=town_name, village=village))
        else:
            roads = list(names.roads_for(name))
            rng.shuffle(roads)
            sites = unit_count + 1
            centre_site.places = tuple(roads[0::sites])
            for n in range(1, unit_count + 1):
                centre.units.append(add(f"{code}-{n:02d}", f"{names.short_name(name)}第{names.ordinal(n)}社区卫生服务站",
                                        unit_kind, centre_site, places=tuple(roads[n::sites])))
        ctx.centres.append(centre)
    ctx.insert(Institution, rows)


# --- step 2: administrators -----------------------------------------------

def _staff_row(ctx: SeedContext, rng: random.Random, staff_id: int, username: str, roles: list[str],
               institution_id: int) -> dict:
    sex = "male" if rng.random() < 0.5 else "female"
    return dict(id=staff_id, username=username, name=names.full_name(rng, sex, rng.randint(1968, 1998)),
                password_hash=ctx.password_hash, roles=roles, institution_id=institution_id,
                phone=names.mobile(rng), active=True, created_at=ctx.now)


def build_admin_accounts(ctx: SeedContext) -> None:
    """``admin`` (district) and one ``hcNN-admin`` per centre."""
    rng = ctx.rng("accounts")
    ids = iter(ctx.allocate_ids(Staff, 1 + len(ctx.centres)))
    rows = [_staff_row(ctx, rng, next(ids), "admin", ["district_admin"], ctx.bureau.id)]
    ctx.staff_notes["admin"] = f"district administrator, {BUREAU_NAME}"
    for centre in ctx.centres:
        username = f"{centre.code.lower()}-admin"
        rows.append(_staff_row(ctx, rng, next(ids), username, ["institution_admin"], centre.id))
        ctx.staff_notes[username] = f"institution administrator, {centre.name}"
    ctx.insert(Staff, rows)
    ctx.staff_ids.update({row["username"]: row["id"] for row in rows})


# --- step 3: family-doctor teams ------------------------------------------

# (team role, username stem, staff roles)
TEAM_LAYOUT = (
    ("leader_gp", "doc", ["doctor", "team_leader"]),
    ("nurse", "nurse", ["doctor"]),
    ("public_health", "ph", ["doctor"]),
)
VILLAGE_DOCTOR = ("village_doctor", "vd", ["doctor"])


def team_count(ctx: SeedContext, centre: Centre) -> int:
    return max(1, round(ctx.scaled(centre.target["service_population"]) / RESIDENTS_PER_TEAM))


def build_teams(ctx: SeedContext) -> None:
    """One team per ~2,000 residents: a GP leader, a nurse, a public-health physician,
    and a village doctor in township centres. Staff belong to the centre so they see
    its whole subtree (clinics and stations included)."""
    staff_rows, team_rows, member_rows = [], [], []
    for centre in ctx.centres:
        rng = ctx.rng("teams", centre.code)
        layout = TEAM_LAYOUT + ((VILLAGE_DOCTOR,) if centre.kind == "township_health_center" else ())
        count = team_count(ctx, centre)
        team_ids = ctx.allocate_ids(Team, count)
        staff_ids = iter(ctx.allocate_ids(Staff, count * len(layout)))
        member_ids = iter(ctx.allocate_ids(TeamMember, count * len(layout)))
        for number, team_id in enumerate(team_ids, start=1):
            team_name = f"{centre.name}第{number}团队"
            team_rows.append(dict(id=team_id, name=team_name, institution_id=centre.id, active=True,
                                  created_at=ctx.now))
            for role, stem, roles in layout:
                username = f"{centre.code.lower()}-{stem}{number:02d}"
                row = _staff_row(ctx, rng, next(staff_ids), username, roles, centre.id)
                staff_rows.append(row)
                member_rows.append(dict(id=next(member_ids), team_id=team_id, staff_id=row["id"], role=role))
                ctx.staff_ids[username] = row["id"]
                ctx.staff_notes[username] = f"{role}, {team_name}"
                if role == "leader_gp":
                    centre.team_leader[team_id] = row["id"]
            centre.team_ids.append(team_id)
    ctx.insert(Staff, staff_rows)
    ctx.insert(Team, team_rows)
    ctx.insert(TeamMember, member_rows)


# --- step 4: households and residents -------------------------------------

class _Quota:
    """How many residents of each age band a centre still needs (exact totals)."""

    def __init__(self, child: int, adult: int, elderly: int):
        self.left = {"child": child, "adult": adult, "elderly": elderly}

    def take(self, band: str) -> bool:
        if self.left[band] <= 0:
            return False
        self.left[band] -= 1
        return True

    def spare_adults(self) -> int:
        """Adults (7–64) not kept back as parents for the children still to place."""
        return self.left["adult"] - 2 * self.left["child"]

    def remaining(self) -> int:
        return sum(self.left.values())


def _band(age: int) -> str:
    return "child" if age <= 6 else ("elderly" if age >= 65 else "adult")


# Working-age heads of households: Weihai is an old city, more 45–64 than 18–34.
_ADULT_AGE = names.WeightedChoice([(age, 0.8 if age < 25 else 1.0 if age < 35 else 1.1 if age < 45
                                    else 1.35) for age in range(18, 65)])


def _adult_age(rng: random.Random, low: int = 18, high: int = 64) -> int:
    for _ in range(8):
        age = _ADULT_AGE(rng)
        if low <= age <= high:
            return age
    return rng.randint(low, high)


def _elderly_age(rng: random.Random) -> int:
    return min(104, 65 + int(rng.expovariate(1 / 8.5)))


def _other(sex: str) -> str:
    return "female" if sex == "male" else "male"


def _child_relation(sex: str, grand: bool = False) -> str:
    if grand:
        return "孙子" if sex == "male" else "孙女"
    return "子" if sex == "male" else "女"


def _compose_household(rng: random.Random, quota: _Quota) -> list[tuple[str, str, int]]:
    """Members as (relation to head, sex, age); consumes the quota exactly.

    Household types are drawn in proportion to the households each band still needs,
    so the bands run out together: young families (children 0–6), elderly couples
    or widows, and working-age households (with school-age children sometimes).
    """
    left = quota.left
    w_young = left["child"] / 1.15
    w_elder = max(left["elderly"] - 0.25 * w_young, 0) / 1.65
    w_adult = max(left["adult"] - 1.95 * w_young - 0.15 * w_elder, 0) / 2.3
    total = w_young + w_elder + w_adult
    if total > 0:
        draw = rng.random() * total
        kind = "young" if draw < w_young else "elderly" if draw < w_young + w_elder else "adult"
    else:  # only the reserve is left: whichever band still has people
        kind = "young" if left["child"] else "elderly" if left["elderly"] else "adult"

    members: list[tuple[str, str, int]] = []
    if kind == "young":
        if quota.take("adult"):
            head_sex = "male" if rng.random() < 0.8 else "female"
            head_age = min(64, max(22, int(rng.triangular(23, 46, 32))))
            members.append(("户主", head_sex, head_age))
            if rng.random() < 0.92 and quota.take("adult"):
                shift = -2 if head_sex == "male" else 2
                members.append(("配偶", _other(head_sex), min(64, max(20, head_age + shift + rng.randint(-3, 3)))))
            grand = False
        elif quota.take("elderly"):  # grandparents bringing up a grandchild
            head_sex = "male" if rng.random() < 0.5 else "female"
            members.append(("户主", head_sex, min(80, _elderly_age(rng))))
            grand = True
        else:
            grand = False
        sex = "male" if rng.random() < 0.52 else "female"
        quota.take("child")
        members.append(("户主" if not members else _child_relation(sex, grand), sex, rng.randint(0, 6)))
        if len(members) < 5 and rng.random() < 0.3:
            sex = "male" if rng.random() < 0.52 else "female"
            if left["child"] > 0 and rng.random() < 0.6:
                quota.take("child")
                members.append((_child_relation(sex, grand), sex, rng.randint(0, 6)))
            elif not grand and members[0][2] >= 28 and quota.spare_adults() > 0:
                quota.take("adult")
                members.append((_child_relation(sex), sex, rng.randint(7, min(17, members[0][2] - 20))))
        if not grand and members[0][0] == "户主" and len(members) < 5 and rng.random() < 0.22 \
                and quota.take("elderly"):
            sex = "male" if rng.random() < 0.45 else "female"
            age = min(100, max(65 + rng.randint(0, 6), members[0][2] + rng.randint(24, 34)))
            members.append(("父亲" if sex == "male" else "母亲", sex, age))
    elif kind == "elderly":
        quota.take("elderly")
        head_sex = "male" if rng.random() < 0.45 else "female"  # more widows than widowers
        head_age = _elderly_age(rng)
        members.append(("户主", head_sex, head_age))
        if rng.random() < max(0.2, 0.75 - (head_age - 65) * 0.02) and quota.take("elderly"):
            shift = -2 if head_sex == "male" else 2
            members.append(("配偶", _other(head_sex), min(104, max(65, head_age + shift + rng.randint(-3, 3)))))
        if rng.random() < 0.15 and quota.spare_adults() > 0:
            quota.take("adult")
            sex = "male" if rng.random() < 0.5 else "female"
            members.append((_child_relation(sex), sex, rng.randint(35, min(64, head_age - 22))))
    else:
        quota.take("adult")
        head_sex = "male" if rng.random() < 0.65 else "female"
        head_age = _adult_age(rng)
        members.append(("户主", head_sex, head_age))
        married = rng.random() < (0.15 if head_age < 25 else 0.55 if head_age < 30 else 0.82)
        if married and quota.spare_adults() > 0:
            quota.take("adult")
            shift = -2 if head_sex == "male" else 2
            members.append(("配偶", _other(head_sex), min(64, max(18, head_age + shift + rng.randint(-3, 3)))))
        if 27 <= head_age <= 57:
            wanted = rng.choices((0, 1, 2), weights=(0.45, 0.42, 0.13))[0]
            for _ in range(wanted):
                if quota.spare_adults() <= 0:
                    break
                quota.take("adult")
                sex = "male" if rng.random() < 0.52 else "female"
                members.append((_child_relation(sex), sex, rng.randint(7, min(17, head_age - 20))))
        if head_age >= 44 and len(members) < 5 and rng.random() < 0.3 and quota.spare_adults() > 0:
            quota.take("adult")
            sex = "male" if rng.random() < 0.52 else "female"
            members.append((_child_relation(sex), sex, rng.randint(18, min(30, head_age - 20))))
        if head_age >= 40 and len(members) < 5 and rng.random() < 0.08 and quota.take("elderly"):
            sex = "male" if rng.random() < 0.4 else "female"
            members.append(("父亲" if sex == "male" else "母亲", sex,
                            min(100, max(65, head_age + rng.randint(22, 34)))))
    return members


def _birth_for_age(rng: random.Random, today: date, age: int) -> date:
    """A birth date giving exactly ``age`` completed years today."""
    latest = clock.years_before(today, age)
    earliest = clock.years_before(today, age + 1) + timedelta(days=1)
    return earliest + timedelta(days=rng.randrange((latest - earliest).days + 1))


_EDUCATION = {
    "old": names.WeightedChoice([("文盲或半文盲", 18), ("小学", 38), ("初中", 28), ("高中", 9),
                                 ("中等专业学校", 4), ("大学专科和专科学校", 2), ("大学本科", 1)]),
    "mid": names.WeightedChoice([("小学", 8), ("初中", 38), ("高中", 20), ("中等专业学校", 8), ("技工学校", 5),
                                 ("大学专科和专科学校", 11), ("大学本科", 9), ("研究生", 1)]),
    "young": names.WeightedChoice([("初中", 14), ("高中", 14), ("中等专业学校", 8), ("技工学校", 4),
                                   ("大学专科和专科学校", 25), ("大学本科", 31), ("研究生", 4)]),
}
_OCCUPATION = names.WeightedChoice([
    ("国家机关、党群组织、企业、事业单位负责人", 3), ("专业技术人员", 14), ("办事人员和有关人员", 12),
    ("商业、服务业人员", 25), ("农、林、牧、渔、水利业生产人员", 10),
    ("生产、运输设备操作人员及有关人员", 22), ("军人", 0.5), ("不便分类的其他从业人员", 8), ("无职业", 6)])
_BLOOD = names.WeightedChoice([("O", 34), ("A", 28), ("B", 24), ("AB", 9), ("unknown", 5)])
_ALLERGIES = ("青霉素", "磺胺", "链霉素", "头孢类")
_DISABILITIES = ("肢体残疾", "视力残疾", "听力残疾", "言语残疾", "智力残疾", "精神残疾")


def _education(rng: random.Random, age: int, birth_year: int) -> str | None:
    if age < 7:
        return None
    if age <= 12:
        return "小学"
    if age <= 15:
        return "初中"
    if age <= 18:
        return "高中"
    era = "old" if birth_year < 1960 else "mid" if birth_year < 1990 else "young"
    return _EDUCATION[era](rng)


def _marital(rng: random.Random, age: int, has_spouse: bool) -> str | None:
    if age < 18:
        return None
    if has_spouse:
        return "已婚"
    if age >= 65:
        return rng.choices(("丧偶", "已婚", "离婚", "未婚"), weights=(65, 25, 7, 3))[0]
    if age < 30:
        return "未婚" if rng.random() < 0.8 else "已婚"
    return rng.choices(("已婚", "离婚", "未婚", "丧偶"), weights=(60, 25, 10, 5))[0]


class _AddressBook:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def __call__(self, site: Site) -> str:
        rng = self.rng
        if site.village:
            return f"{DISTRICT}{site.town}{site.village}村{rng.randint(1, 320)}号"
        road = rng.choice(site.places)
        if site.town:  # the town seat
            return f"{DISTRICT}{site.town}{road}{rng.randint(1, 180)}号"
        if rng.random() < 0.85:  # flats
            return (f"{DISTRICT}{road}{rng.randint(1, 199)}号{rng.randint(1, 24)}号楼{rng.randint(1, 4)}单元"
                    f"{rng.randint(1, 18)}0{rng.randint(1, 4)}室")
        return f"{DISTRICT}{road}{rng.randint(1, 199)}号"


def build_residents(ctx: SeedContext) -> None:
    """Households of 1–5 and their residents, with exact 65+ and 0–6 counts per centre."""
    from tqdm import tqdm

    total = sum(ctx.scaled(c.target["service_population"]) for c in ctx.centres)
    with tqdm(total=total, unit=" residents", desc="residents", disable=not ctx.progress,
              dynamic_ncols=True, leave=False) as bar:
        for centre in ctx.centres:
            _populate_centre(ctx, centre, bar)


def _populate_centre(ctx: SeedContext, centre: Centre, bar) -> None:
    target = centre.target
    rng = ctx.rng("residents", centre.code)
    today = ctx.today
    keys = vault()
    population = ctx.scaled(target["service_population"])
    elderly = ctx.scaled(target["elderly_65_plus"])
    children = ctx.scaled(target["children_0_6"])
    if elderly + children > population:
        raise ValueError(f"{centre.name}: more elderly and children than residents at this scale")
    quota = _Quota(child=children, adult=population - elderly - children, elderly=elderly)

    township = centre.kind == "township_health_center"
    unit_weights = [rng.uniform(0.7, 1.3) for _ in centre.units]
    scale_units = (1 - CENTRE_SHARE) / sum(unit_weights) if unit_weights else 0
    pick_site = names.WeightedChoice([(centre.site, CENTRE_SHARE)]
                                     + [(u, w * scale_units) for u, w in zip(centre.units, unit_weights)])
    address_of = _AddressBook(rng)
    refs: list[ResidentRef] = []
    ctx.residents[centre.code] = refs
    household_rows: list[dict] = []
    resident_rows: list[dict] = []
    household_no = archive_no = 0
    empty_list: list = []

    def flush():
        if household_rows:
            ctx.insert(Household, household_rows)
        if resident_rows:
            ctx.insert(Resident, resident_rows)
            bar.update(len(resident_rows))
        household_rows.clear()
        resident_rows.clear()

    while quota.remaining() > 0:
        members = _compose_household(rng, quota)
        household_no += 1
        household_id = ctx.new_id(Household)
        site = pick_site(rng)
        team_id = rng.choice(centre.team_ids)
        address = address_of(site)
        household_rows.append(dict(id=household_id, code=f"{centre.code}-H{household_no:06d}", address=address,
                                   institution_id=site.id, created_at=ctx.now))
        residency = "registered" if rng.random() < 0.9 else "non_registered"
        ethnicity = names.ethnicity(rng)
        poor = rng.random() < (0.018 if township else 0.004)
        employee_insured = rng.random() < (0.35 if township else 0.62)
        # Children take the family name: the man's among head and spouse.
        head_sex = members[0][1]
        family = names.surname(rng)
        has_couple = len(members) > 1 and members[1][0] == "配偶"
        head_phone = None
        for relation, sex, age in members:
            birth_on = _birth_for_age(rng, today, age)
            married = has_couple and relation in ("户主", "配偶")
            if relation in ("户主", "配偶"):
                own_family = (sex == "male") or not has_couple and head_sex == sex
                surname = family if own_family else names.surname(rng)
            elif relation in ("母亲",):
                surname = names.surname(rng)
            else:
                surname = family
            name = names.full_name(rng, sex, birth_on.year, surname)
            number = ctx.id_number(rng, birth_on, sex)
            if age <= 6:
                phone = None
            elif age < 18:
                phone = names.mobile(rng) if age >= 14 and rng.random() < 0.5 else (
                    head_phone if rng.random() < 0.3 else None)
            else:
                phone = names.mobile(rng) if rng.random() < (0.7 if age >= 85 else 0.97) else None
            if relation == "户主":
                head_phone = phone
            band = _band(age)
            disabled = rng.random() < (0.04 if band == "elderly" else 0.011 if band == "adult" else 0.004)
            archive_no += 1
            resident_id = ctx.new_id(Resident)
            if age < 18:
                payment = ["城乡居民基本医疗保险"]
            elif employee_insured and (age < 60 or rng.random() < 0.7):
                payment = ["城镇职工基本医疗保险"]
            else:
                payment = ["城乡居民基本医疗保险"]
            if age >= 18 and rng.random() < 0.06:
                payment = [*payment, "商业医疗保险"]
            resident_rows.append(dict(
                id=resident_id, archive_no=f"{centre.code}{archive_no:08d}", name=name,
                id_number_enc=keys.encrypt(number), id_number_hash=keys.lookup_hash(number),
                sex=sex, birth_on=birth_on, phone=phone, address=address, household_id=household_id,
                relation_to_head=relation, residency_type=residency, institution_id=site.id, team_id=team_id,
                status="active", status_changed_on=None,
                ethnicity=names.ethnicity(rng) if relation == "配偶" else ethnicity,
                marital_status=_marital(rng, age, married), education=_education(rng, age, birth_on.year),
                occupation=None if age < 16 else ("无职业" if age >= 60 and rng.random() < 0.8 else _OCCUPATION(rng)),
                blood_type=_BLOOD(rng), payment_methods=payment,
                allergies=[rng.choice(_ALLERGIES)] if rng.random() < 0.04 else empty_list,
                exposures=empty_list, past_history=empty_list, family_history=empty_list,
                disabilities=[rng.choice(_DISABILITIES)] if disabled else empty_list,
                living_environment={}, disabled_certified=disabled, poverty_alleviated=poor,
                special_family=age >= 50 and rng.random() < 0.008, pregnancy_due_on=None,
                created_at=ctx.now, updated_at=ctx.now))
            refs.append(ResidentRef(resident_id, site.id, team_id, household_id, birth_on, sex, married))
        if len(resident_rows) >= CHUNK_SIZE:
            flush()
    flush()


# --- step 5: chronic conditions -------------------------------------------

def _weighted_sample(rng: random.Random, items: list, weights: list[float], k: int) -> list:
    """k items without replacement, chance proportional to weight (Efraimidis–Spirakis)."""
    if k <= 0:
        return []
    keyed = ((rng.random() ** (1.0 / w), index) for index, w in enumerate(weights))
    return [items[index] for _, index in heapq.nlargest(min(k, len(items)), keyed)]


def _plus_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# Relative prevalence by age band (35–44, 45–54, 55–64, 65+)
_HTN_WEIGHTS = (1.0, 2.5, 4.0, 5.5)
_T2DM_WEIGHTS = (0.4, 1.0, 1.8, 2.2)


def build_conditions(ctx: SeedContext) -> None:
    """The task target counts (应管人数) of hypertension and T2DM patients, all 35+."""
    today = ctx.today
    limits = [clock.years_before(today, age) for age in (35, 45, 55, 65)]
    rows = []
    for centre in ctx.centres:
        rng = ctx.rng("conditions", centre.code)
        eligible, bands = [], []
        for ref in ctx.residents.get(centre.code, ()):
            if ref.birth_on <= limits[0]:
                eligible.append(ref)
                bands.append(sum(ref.birth_on <= limit for limit in limits) - 1)
        htn = _weighted_sample(rng, eligible, [_HTN_WEIGHTS[b] for b in bands],
                               ctx.scaled(centre.target["htn_target_count"]))
        htn_ids = {ref.id for ref in htn}
        t2dm = _weighted_sample(rng, eligible, [_T2DM_WEIGHTS[b] * (2.5 if ref.id in htn_ids else 1.0)
                                                for ref, b in zip(eligible, bands)],
                                ctx.scaled(centre.target["t2dm_target_count"]))
        for disease, chosen in (("hypertension", htn), ("t2dm", t2dm)):
            chosen.sort(key=lambda ref: ref.id)
            ids = ctx.allocate_ids(Condition, len(chosen))
            for condition_id, ref in zip(ids, chosen):
                earliest = max(_plus_years(ref.birth_on, 30), clock.years_before(today, 25))
                latest = today - timedelta(days=30)
                diagnosed = earliest + timedelta(days=rng.randrange(max(1, (latest - earliest).days)))
                rows.append(dict(id=condition_id, resident_id=ref.id, disease=disease, diagnosed_on=diagnosed,
                                 active=True, recorded_by_id=centre.team_leader.get(ref.team_id),
                                 created_at=ctx.now))
                ctx.conditions.setdefault(disease, set()).add(ref.id)
    ctx.insert(Condition, rows)


# --- step 6: pregnancies ----------------------------------------------------

def build_pregnancies(ctx: SeedContext) -> None:
    """About last year's live births (× scale) of women 20–40 are pregnant, due within 9 months."""
    today = ctx.today
    youngest, oldest = clock.years_before(today, 20), clock.years_before(today, 41)
    params = []
    for centre in ctx.centres:
        rng = ctx.rng("pregnancies", centre.code)
        women = [ref for ref in ctx.residents.get(centre.code, ())
                 if ref.sex == "female" and oldest < ref.birth_on <= youngest]
        chosen = _weighted_sample(rng, women, [6.0 if ref.married else 1.0 for ref in women],
                                  ctx.scaled(centre.target["live_births_2023"]))
        for ref in sorted(chosen, key=lambda r: r.id):
            due = today + timedelta(days=rng.randint(7, 270))
            ctx.pregnant[ref.id] = due
            params.append({"rid": ref.id, "due": due})
    if params:
        table = Resident.__table__
        statement = update(table).where(table.c.id == bindparam("rid")).values(pregnancy_due_on=bindparam("due"))
        for start in range(0, len(params), CHUNK_SIZE):
            db.session.execute(statement, params[start:start + CHUNK_SIZE])


# --- the step list ----------------------------------------------------------

def feature_step(target: str) -> Step:
    """A step living in a feature package ("package.module:function"), imported when it runs.

    Late import keeps this module free of feature imports (features import the seed's
    constants, not the other way round), the same way the scheduler's job list does.
    """
    def run(ctx: SeedContext) -> None:
        module, _, name = target.partition(":")
        getattr(importlib.import_module(module), name)(ctx)

    run.__name__ = run.__qualname__ = target
    return run


STEPS: list[tuple[str, Step]] = [
    ("organisation", build_organisation),
    ("accounts", build_admin_accounts),
    ("teams", build_teams),
    ("residents", build_residents),
    ("conditions", build_conditions),
    ("followups", feature_step("app.followups.demo:seed_followups")),
    ("pregnancies", build_pregnancies),
    ("contracts", feature_step("app.contracts.demo:seed_contracts")),
    ("appointments", feature_step("app.appointments.demo:seed_appointments")),
    ("surveys", feature_step("app.surveys.demo:seed_surveys")),
    ("targets", feature_step("app.indicators.demo:seed_targets")),
]


def register_step(name: str, step: Step, *, after: str | None = None) -> None:
    """Add a step (at the end, or right after the step called ``after``). Idempotent by name."""
    if any(existing == name for existing, _ in STEPS):
        return
    position = len(STEPS)
    if after is not None:
        position = next(i for i, (existing, _) in enumerate(STEPS) if existing == after) + 1
    STEPS.insert(position, (name, step))


# --- running ----------------------------------------------------------------

def database_is_empty() -> tuple[bool, dict[str, int]]:
    counts = {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
              for model in (Institution, Staff, Resident)}
    return not any(counts.values()), counts


def reset_sequences(tables) -> None:
    """PostgreSQL: move each serial/identity sequence past the ids the seed chose."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for name in tables:
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence(:table, 'id'), (SELECT max(id) FROM \"{name}\"))"),
            {"table": name})


def run_seed(scale: float = 0.01, seed: int = 2024, *, echo: Callable[[str], None] = print,
             progress: bool = False, steps: list[tuple[str, Step]] | None = None) -> SeedContext:
    """Build the demo district in one transaction; returns the context for reporting."""
    password = current_app.config["DEMO_PASSWORD"]
    ctx = SeedContext(scale=scale, seed=seed, today=clock.today(), now=clock.now(), password=password,
                      # One scrypt for every account: hashing per account would take minutes.
                      password_hash=hash_password(password), targets=load_targets(), echo=echo,
                      progress=progress)
    started = perf_counter()
    try:
        for name, step in (STEPS if steps is None else steps):
            step_started = perf_counter()
            step(ctx)
            echo(f"  {name:<14} {perf_counter() - step_started:6.1f} s")
        reset_sequences(ctx.counts)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if db.session.get_bind().dialect.name == "postgresql":
        for name in ctx.counts:
            db.session.execute(text(f'ANALYZE "{name}"'))
        db.session.commit()
    ctx.extras["seconds"] = perf_counter() - started
    log.info("demo district seeded: %s", dict(ctx.counts))
    return ctx


# --- the closing message ----------------------------------------------------

def showcase_residents(ctx: SeedContext, limit: int = 4) -> list[dict]:
    """A few HC01 residents worth binding in the mini-program demo (decrypted: demo only)."""
    if not ctx.centres:
        return []
    centre = ctx.centres[0]
    refs = {ref.id: ref for ref in ctx.residents.get(centre.code, ())}
    today = ctx.today
    child_households = {ref.household_id for ref in refs.values()
                        if ref.birth_on > clock.years_before(today, 7)}
    htn, t2dm = ctx.conditions.get("hypertension", set()), ctx.conditions.get("t2dm", set())
    wanted = [
        ("parent of a child 0–6", lambda r: r.household_id in child_households and r.married
         and clock.age_on(r.birth_on, today) >= 22),
        ("65+ with hypertension", lambda r: r.id in htn and clock.age_on(r.birth_on, today) >= 65),
        ("type-2 diabetes", lambda r: r.id in t2dm),
        ("pregnant", lambda r: r.id in ctx.pregnant),
        ("adult", lambda r: 25 <= clock.age_on(r.birth_on, today) < 60),
    ]
    picked: list[tuple[int, str]] = []
    for label, test in wanted:
        found = next((ref.id for ref in refs.values() if test(ref) and ref.id not in dict(picked)), None)
        if found is not None:
            picked.append((found, label))
        if len(picked) >= limit:
            break
    rows = {r.id: r for r in db.session.execute(
        select(Resident.id, Resident.name, Resident.id_number_enc, Resident.archive_no, Resident.birth_on,
               Resident.sex).where(Resident.id.in_([i for i, _ in picked])))}
    keys = vault()
    shown = []
    for resident_id, label in picked:
        row = rows.get(resident_id)
        if row is None:
            continue
        shown.append(dict(name=row.name, id_number=keys.decrypt(row.id_number_enc), archive_no=row.archive_no,
                          age=clock.age_on(row.birth_on, today), sex=row.sex, why=label))
    return shown


def summary_lines(ctx: SeedContext) -> list[str]:
    residents = ctx.counts.get("residents", 0)
    lines = [
        f"Demo district {BUREAU_NAME} seeded (scale {ctx.scale:g}, seed {ctx.seed}) in "
        f"{ctx.extras.get('seconds', 0):.1f} s: {ctx.counts.get('institutions', 0)} institutions, "
        f"{ctx.counts.get('staff', 0)} staff, {ctx.counts.get('teams', 0)} teams, "
        f"{ctx.counts.get('households', 0)} households, {residents} residents, "
        f"{len(ctx.conditions.get('hypertension', ()))} hypertension, {len(ctx.conditions.get('t2dm', ()))} T2DM, "
        f"{len(ctx.pregnant)} pregnant.",
        "",
        "API: http://127.0.0.1:5000/api/v1 (start it with `flask --app wsgi run`; docs at /api/docs)",
        "Staff login: POST /api/v1/auth/staff/login {\"username\": …, \"password\": …}",
        f"Password of every demo account (DEMO_PASSWORD): {ctx.password}",
    ]
    first = ctx.centres[0].code.lower() if ctx.centres else "hc01"
    shown = ["admin", f"{first}-admin", f"{first}-doc01", f"{first}-nurse01", f"{first}-ph01"]
    if len(ctx.centres) > 1:
        shown.append(f"{ctx.centres[1].code.lower()}-doc01")
    for username in shown:
        if username in ctx.staff_ids:
            lines.append(f"  {username:<14} {ctx.staff_notes.get(username, '')}")
    lines.append("  (the same pattern for every centre: hc01…hc10 -admin, -docNN, -nurseNN, -phNN, "
                 "and -vdNN in township centres)")
    people = showcase_residents(ctx)
    if people:
        lines.append("Residents to bind in the mini-program (name + ID number; made-up demo data):")
        for person in people:
            lines.append(f"  {person['name']:<4} {person['id_number']}  archive {person['archive_no']}  "
                         f"{person['age']} y, {person['sex']}, {person['why']}")
    lines.extend(ctx.notes)
    return lines
