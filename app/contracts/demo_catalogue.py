"""Demo data: the district's service-package catalogue (a step of ``app.contracts.demo``).

A basic package (30-yuan public-health share) and one personalised package per key population,
offered by the bureau (so everywhere).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import insert

from app.contracts.models import PackageInstitution, PackageItem, ServicePackage
from app.extensions import db

# code, name, kind, populations, price, subsidy, items [(name, service_type, times)]
CATALOGUE = (
    (
        "HC-BASIC",
        "家庭医生基础服务包",
        "basic",
        (),
        "0",
        "30",
        (
            ("年度健康评估", "health_check", 1),
            ("健康咨询与指导", "consultation", 4),
            ("健康教育", "health_education", 2),
        ),
    ),
    (
        "HC-ELDER",
        "老年人健康管理服务包",
        "personalized",
        ("elderly",),
        "60",
        "0",
        (
            ("中医体质辨识", "tcm_guidance", 1),
            ("认知功能筛查", "cognitive_screening", 1),
            ("上门随访", "home_visit", 2),
        ),
    ),
    (
        "HC-HTN",
        "高血压患者服务包",
        "personalized",
        ("hypertension",),
        "80",
        "0",
        (
            ("高血压面对面随访", "chronic_followup", 4),
            ("血脂及肾功能检测", "lab_test", 1),
            ("用药指导", "medication_guidance", 2),
        ),
    ),
    (
        "HC-T2DM",
        "2型糖尿病患者服务包",
        "personalized",
        ("t2dm",),
        "90",
        "0",
        (
            ("糖尿病面对面随访", "chronic_followup", 4),
            ("空腹血糖检测", "lab_test", 4),
            ("用药指导", "medication_guidance", 2),
        ),
    ),
    (
        "HC-CHILD",
        "0-6岁儿童健康服务包",
        "personalized",
        ("children_0_6",),
        "40",
        "0",
        (("儿童健康检查", "child_health_check", 2), ("中医药调养指导", "tcm_guidance", 2)),
    ),
    (
        "HC-PREG",
        "孕产妇健康服务包",
        "personalized",
        ("pregnant",),
        "50",
        "0",
        (("产前检查", "prenatal_check", 5), ("产后访视", "postpartum_visit", 1)),
    ),
    (
        "HC-DISABLED",
        "残疾人健康服务包",
        "personalized",
        ("disabled",),
        "0",
        "0",
        (("康复指导", "rehabilitation", 4), ("上门服务", "home_visit", 2)),
    ),
    (
        "HC-POOR",
        "脱贫人口健康服务包",
        "personalized",
        ("poverty_alleviated",),
        "0",
        "0",
        (("上门随访", "home_visit", 4), ("健康咨询", "consultation", 4)),
    ),
    (
        "HC-SPECIAL",
        "计生特殊家庭服务包",
        "personalized",
        ("special_family",),
        "0",
        "0",
        (("上门关怀服务", "home_visit", 4), ("心理疏导与咨询", "consultation", 4)),
    ),
)
MAX_TIMES = 12  # no seeded item is due more often than this a year


def build_catalogue(ctx) -> tuple[dict, dict]:
    """Insert the packages; returns {code: row}, {population: row} (rows carry items)."""
    package_ids = iter(ctx.allocate_ids(ServicePackage, len(CATALOGUE)))
    item_ids = iter(ctx.allocate_ids(PackageItem, sum(len(c[6]) for c in CATALOGUE)))
    packages, items, offered = [], [], []
    valid_from = date(ctx.today.year - 2, 1, 1)
    for code, name, kind, populations, price, subsidy, package_items in CATALOGUE:
        package_id = next(package_ids)
        row = dict(
            id=package_id,
            code=code,
            version=1,
            name=name,
            kind=kind,
            populations=list(populations),
            price=Decimal(price),
            public_health_subsidy=Decimal(subsidy),
            valid_from=valid_from,
            valid_until=None,
            description=None,
            status="active",
            owner_institution_id=ctx.bureau.id,
            previous_version_id=None,
            created_by_id=ctx.staff_ids.get("admin"),
            created_at=ctx.now,
            updated_at=ctx.now,
        )
        packages.append(row)
        for position, (item_name, service_type, times) in enumerate(package_items):
            item = dict(
                id=next(item_ids),
                package_id=package_id,
                position=position,
                name=item_name,
                service_type=service_type,
                times_per_year=times,
            )
            items.append(item)
        offered.append(dict(package_id=package_id, institution_id=ctx.bureau.id))
    ctx.insert(ServicePackage, packages)
    ctx.insert(PackageItem, items)
    # Not through ctx.insert: this table has no id sequence for the seed to move on.
    db.session.execute(insert(PackageInstitution.__table__), offered)
    by_code = {p["code"]: p for p in packages}
    by_population = {p["populations"][0]: p for p in packages if p["kind"] == "personalized"}
    return by_code, by_population
