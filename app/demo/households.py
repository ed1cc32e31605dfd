"""Demo step "residents": households of 1–5 and their residents, centre by centre, with the exact
numbers of elderly (65+), children (0–6), under-3s (0–36 months) and newborns (born in the last twelve
months) the targets table gives each centre."""

from __future__ import annotations

import random
from datetime import date, timedelta

from tqdm import tqdm

from app.common import time as clock
from app.common.ids import vault
from app.demo import names
from app.demo.context import (
    CENTRE_SHARE,
    CHUNK_SIZE,
    DISTRICT,
    Centre,
    ResidentRef,
    SeedContext,
    Site,
)
from app.demo.household_members import Quota, age_band, compose_household
from app.residents.models import Household, Resident


def _birth_for_age(rng: random.Random, today: date, age: int) -> date:
    """A birth date giving exactly ``age`` completed years today."""
    latest = clock.years_before(today, age)
    earliest = clock.years_before(today, age + 1) + timedelta(days=1)
    return earliest + timedelta(days=rng.randrange((latest - earliest).days + 1))


_EDUCATION = {
    "old": names.WeightedChoice(
        [
            ("文盲或半文盲", 18),
            ("小学", 38),
            ("初中", 28),
            ("高中", 9),
            ("中等专业学校", 4),
            ("大学专科和专科学校", 2),
            ("大学本科", 1),
        ]
    ),
    "mid": names.WeightedChoice(
        [
            ("小学", 8),
            ("初中", 38),
            ("高中", 20),
            ("中等专业学校", 8),
            ("技工学校", 5),
            ("大学专科和专科学校", 11),
            ("大学本科", 9),
            ("研究生", 1),
        ]
    ),
    "young": names.WeightedChoice(
        [
            ("初中", 14),
            ("高中", 14),
            ("中等专业学校", 8),
            ("技工学校", 4),
            ("大学专科和专科学校", 25),
            ("大学本科", 31),
            ("研究生", 4),
        ]
    ),
}
_OCCUPATION = names.WeightedChoice(
    [
        ("国家机关、党群组织、企业、事业单位负责人", 3),
        ("专业技术人员", 14),
        ("办事人员和有关人员", 12),
        ("商业、服务业人员", 25),
        ("农、林、牧、渔、水利业生产人员", 10),
        ("生产、运输设备操作人员及有关人员", 22),
        ("军人", 0.5),
        ("不便分类的其他从业人员", 8),
        ("无职业", 6),
    ]
)
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
            return (
                f"{DISTRICT}{road}{rng.randint(1, 199)}号{rng.randint(1, 24)}号楼{rng.randint(1, 4)}单元"
                f"{rng.randint(1, 18)}0{rng.randint(1, 4)}室"
            )
        return f"{DISTRICT}{road}{rng.randint(1, 199)}号"


def build_residents(ctx: SeedContext) -> None:
    """Households of 1–5 and their residents, with exact 65+ and 0–6 counts per centre."""
    total = sum(ctx.scaled(c.target["service_population"]) for c in ctx.centres)
    with tqdm(
        total=total, unit=" residents", desc="residents", disable=not ctx.progress, dynamic_ncols=True, leave=False
    ) as bar:
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
    quota = Quota(
        child=children,
        adult=population - elderly - children,
        elderly=elderly,
        under3=ctx.scaled(target["children_0_36m"]),
        newborns=ctx.scaled(target["newborns_2023"]),
    )

    township = centre.kind == "township_health_center"
    unit_weights = [rng.uniform(0.7, 1.3) for _ in centre.units]
    scale_units = (1 - CENTRE_SHARE) / sum(unit_weights) if unit_weights else 0
    pick_site = names.WeightedChoice(
        [(centre.site, CENTRE_SHARE)] + [(u, w * scale_units) for u, w in zip(centre.units, unit_weights, strict=True)]
    )
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
        members = compose_household(rng, quota)
        household_no += 1
        household_id = ctx.new_id(Household)
        site = pick_site(rng)
        team_id = rng.choice(centre.team_ids)
        address = address_of(site)
        household_rows.append(
            dict(
                id=household_id,
                code=f"{centre.code}-H{household_no:06d}",
                address=address,
                institution_id=site.id,
                created_at=ctx.now,
            )
        )
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
                phone = (
                    names.mobile(rng)
                    if age >= 14 and rng.random() < 0.5
                    else (head_phone if rng.random() < 0.3 else None)
                )
            else:
                phone = names.mobile(rng) if rng.random() < (0.7 if age >= 85 else 0.97) else None
            if relation == "户主":
                head_phone = phone
            band = age_band(age)
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
            resident_rows.append(
                dict(
                    id=resident_id,
                    archive_no=f"{centre.code}{archive_no:08d}",
                    name=name,
                    id_number_enc=keys.encrypt(number),
                    id_number_hash=keys.lookup_hash(number),
                    sex=sex,
                    birth_on=birth_on,
                    phone=phone,
                    address=address,
                    household_id=household_id,
                    relation_to_head=relation,
                    residency_type=residency,
                    institution_id=site.id,
                    team_id=team_id,
                    status="active",
                    status_changed_on=None,
                    ethnicity=names.ethnicity(rng) if relation == "配偶" else ethnicity,
                    marital_status=_marital(rng, age, married),
                    education=_education(rng, age, birth_on.year),
                    occupation=None
                    if age < 16
                    else ("无职业" if age >= 60 and rng.random() < 0.8 else _OCCUPATION(rng)),
                    blood_type=_BLOOD(rng),
                    payment_methods=payment,
                    allergies=[rng.choice(_ALLERGIES)] if rng.random() < 0.04 else empty_list,
                    exposures=empty_list,
                    past_history=empty_list,
                    family_history=empty_list,
                    disabilities=[rng.choice(_DISABILITIES)] if disabled else empty_list,
                    living_environment={},
                    disabled_certified=disabled,
                    poverty_alleviated=poor,
                    special_family=age >= 50 and rng.random() < 0.008,
                    pregnancy_due_on=None,
                    created_at=ctx.now,
                    updated_at=ctx.now,
                )
            )
            refs.append(ResidentRef(resident_id, site.id, team_id, household_id, birth_on, sex, married))
        if len(resident_rows) >= CHUNK_SIZE:
            flush()
    flush()
