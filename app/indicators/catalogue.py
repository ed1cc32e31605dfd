"""THE definition of every indicator (docs/domain.md §7): one :class:`~app.indicators.engine.Definition`
per indicator, used by every feature's view of it (docs/indicators.md is generated from this table).
"""

from __future__ import annotations

from app.indicators.clauses import (
    active_population,
    controlled,
    dynamic_use,
    family_signed_on,
    health_check_in_year,
    key_population,
    managed,
    positive_respondent,
    renewal_base,
    renewed,
    respondent,
    signed_on,
    standardised_archive,
    standardised_management,
    tcm_in_year,
)
from app.indicators.engine import Definition
from app.indicators.maternal_child import MATERNAL_AND_CHILD
from app.indicators.outreach import OUTREACH

# One function object per shared base, so a count evaluates it once per resident.
_archive = active_population(None)
elderly = active_population("elderly")

_OPEN = "archive open on D (status active, or moved away / deceased after D)"

DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "ehr",
        "电子健康档案建档率",
        "E-health-archive rate",
        "archive",
        _archive,
        None,
        0.90,
        denominator="service_population",
        csv_column="ehr_target_90pct",
        text={
            "numerator": f"residents with an archive ({_OPEN})",
            "denominator": "service population (辖区服务人口数): the top-most declared figure in the subtree",
            "window": "D",
        },
    ),
    Definition(
        "std_ehr_coverage",
        "规范化电子健康档案覆盖率",
        "Standardised-archive coverage",
        "archive",
        _archive,
        standardised_archive,
        0.64,
        denominator="service_population",
        csv_column="std_ehr_coverage_target_64pct",
        text={
            "numerator": "open archives that are standardised: basic sheet complete (phone, address, "
            "ethnicity, marital status, education, occupation, blood type, a payment "
            "method) and a health check on file (app.archive.metrics.standardised_clause)",
            "denominator": "service population, as for 建档率",
            "window": "D",
        },
    ),
    Definition(
        "ehr_dynamic_use",
        "健康档案动态使用率",
        "Archive dynamic-usage rate",
        "archive",
        _archive,
        dynamic_use,
        0.60,
        csv_column="ehr_dynamic_use_target_60pct",
        text={
            "numerator": "open archives with a service in the window: a health check, another medical "
            "service record, a follow-up visit or a contract delivery "
            "(app.archive.metrics.ACTIVITY_SOURCES)",
            "denominator": "open archives",
            "window": "D minus one year … D",
        },
    ),
    Definition(
        "elderly_health_management",
        "老年人规范健康管理服务率",
        "Elderly health-management rate",
        "elderly",
        elderly,
        health_check_in_year,
        0.64,
        csv_column="elderly_std_mgmt_target_64pct",
        text={
            "numerator": "of those, residents with a health check (健康体检表) this year",
            "denominator": "residents 65 or older on D with an open archive",
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "elderly_tcm",
        "老年人中医药健康管理率",
        "Elderly TCM health-management rate",
        "elderly",
        elderly,
        tcm_in_year,
        0.74,
        csv_column="elderly_tcm_target_74pct",
        text={
            "numerator": "of those, residents with a TCM service record (kind tcm: 体质辨识 and guidance) this year",
            "denominator": "residents 65 or older on D with an open archive",
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "hypertension_managed",
        "高血压患者管理人数",
        "Hypertension patients managed",
        "chronic",
        managed("hypertension"),
        None,
        1.0,
        denominator="target_count",
        csv_column="htn_target_count",
        text={
            "numerator": "managed hypertension patients: an active diagnosis recorded on or before D, "
            "archive open on D",
            "denominator": "the task target count (应管人数) of the institution's targets for the year "
            "(summed over the institutions of a subtree)",
            "window": "D",
            "target": "100 % of the target count",
        },
    ),
    Definition(
        "hypertension_standardised_management",
        "高血压患者基层规范管理服务率",
        "Hypertension standardised-management rate",
        "chronic",
        managed("hypertension"),
        standardised_management("hypertension"),
        0.64,
        csv_column="htn_std_mgmt_target_64pct",
        text={
            "numerator": "of those, patients with ≥ 4 face-to-face (clinic or home) hypertension follow-ups this year",
            "denominator": "managed hypertension patients on D",
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "hypertension_bp_control",
        "高血压患者血压控制率",
        "Blood-pressure control rate",
        "chronic",
        managed("hypertension"),
        controlled("hypertension"),
        0.45,
        text={
            "numerator": "of those, patients whose latest face-to-face hypertension follow-up this year "
            "has SBP < 140 and DBP < 90 mmHg",
            "denominator": "managed hypertension patients on D",
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "t2dm_managed",
        "2型糖尿病患者管理人数",
        "Type-2 diabetes patients managed",
        "chronic",
        managed("t2dm"),
        None,
        1.0,
        denominator="target_count",
        csv_column="t2dm_target_count",
        text={
            "numerator": "managed T2DM patients: an active diagnosis recorded on or before D, archive open on D",
            "denominator": "the task target count (应管人数), as for hypertension",
            "window": "D",
            "target": "100 % of the target count",
        },
    ),
    Definition(
        "t2dm_standardised_management",
        "2型糖尿病患者基层规范管理服务率",
        "Type-2 diabetes standardised-management rate",
        "chronic",
        managed("t2dm"),
        standardised_management("t2dm"),
        0.64,
        csv_column="t2dm_std_mgmt_target_64pct",
        text={
            "numerator": "of those, patients with ≥ 4 face-to-face (clinic or home) T2DM follow-ups this year",
            "denominator": "managed T2DM patients on D",
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "t2dm_glucose_control",
        "2型糖尿病患者血糖达标率",
        "Blood-glucose control rate",
        "chronic",
        managed("t2dm"),
        controlled("t2dm"),
        0.35,
        text={
            "numerator": "of those, patients whose latest face-to-face T2DM follow-up this year has a "
            "fasting glucose < 7.0 mmol/L",
            "denominator": "managed T2DM patients on D",
            "window": "1 Jan … D",
        },
    ),
    # 附件2's second table, in its column order after the first's
    *MATERNAL_AND_CHILD,
    Definition(
        "signing_rate",
        "签约率",
        "Signing rate",
        "signing",
        active_population(None),
        signed_on,
        None,
        target_rule="last_year_plus",
        target_gain=0.03,
        text={
            "numerator": "of those, residents signed on D: a contract signed by the end of D whose "
            "period covers D and that was not terminated on or before D",
            "denominator": "residents with an archive open on D",
            "window": "D",
            "target": "last year's rate (the same indicator on D minus one year) + 3 percentage points, at most 100 %",
        },
    ),
    *(
        Definition(
            f"signing_rate_{population}",
            label,
            f"Signing rate: {population.replace('_', ' ')}",
            "signing",
            active_population(population),
            signed_on,
            target,
            text={
                "numerator": "of those, residents signed on D",
                "denominator": f"residents of the population {population} on D "
                "(app.residents.populations) with an archive open on D",
                "window": "D",
            },
        )
        for population, label, target in (
            ("elderly", "老年人签约率", 0.88),
            ("hypertension", "高血压患者签约率", 0.78),
            ("t2dm", "2型糖尿病患者签约率", 0.78),
            ("children_0_6", "0-6岁儿童签约率", 0.78),
            ("pregnant", "孕产妇签约率", 0.78),
            ("disabled", "持证残疾人签约率", 0.70),
            ("poverty_alleviated", "脱贫人口签约率", 1.00),
            ("special_family", "计生特殊家庭签约率", 1.00),
        )
    ),
    Definition(
        "family_signing_rate",
        "重点人群以家庭为单位签约率",
        "Family-unit signing rate (key populations)",
        "signing",
        key_population,
        family_signed_on,
        0.20,
        text={
            "numerator": "of those, residents signed on D under a family contract (以家庭为单位)",
            "denominator": "residents of any key population on D (elderly, hypertension, T2DM, "
            "children 0–6, pregnant, disabled, poverty-alleviated, special family) "
            "with an archive open on D",
            "window": "D",
        },
    ),
    Definition(
        "renewal_rate",
        "续约率",
        "Renewal rate",
        "signing",
        renewal_base,
        renewed,
        0.80,
        text={
            "numerator": "of those, residents who signed a later contract (a later start) by D",
            "denominator": "residents (archive open on D) whose signed contract period ended in the "
            "year before D (D minus one year … D − 1 day), not terminated",
            "window": "D minus one year … D",
        },
    ),
    Definition(
        "satisfaction",
        "满意度",
        "Satisfaction rate",
        "survey",
        respondent("satisfaction"),
        positive_respondent("satisfaction"),
        0.90,
        text={
            "numerator": "of those, residents whose latest such response is satisfied by the survey's "
            "own rule (app.surveys.rules.positive_respondent: the positive share of "
            "scored answers ≥ the survey's threshold)",
            "denominator": "residents who responded to a published satisfaction survey opened this "
            "year, by the end of D (each resident once)",
            "window": "surveys opened 1 Jan … D, responses by the end of D",
        },
    ),
    Definition(
        "awareness",
        "知晓率",
        "Awareness rate",
        "survey",
        respondent("awareness"),
        positive_respondent("awareness"),
        0.90,
        text={
            "numerator": "of those, residents whose latest such response is aware by the survey's own rule",
            "denominator": "residents who responded to a published awareness survey opened this year, "
            "by the end of D (each resident once)",
            "window": "surveys opened 1 Jan … D, responses by the end of D",
        },
    ),
    # the worklist's outreach and two-way referral (no national target)
    *OUTREACH,
)
BY_KEY: dict[str, Definition] = {d.key: d for d in DEFINITIONS}
KEYS: tuple[str, ...] = tuple(BY_KEY)

TARGET_KEYS: tuple[str, ...] = KEYS  # every indicator may have a target


def describe(definition: Definition) -> dict:
    """The definition in words (API, docs, the export's definitions sheet)."""
    text = definition.text
    if "target" in text:
        target = text["target"]
    elif definition.target is not None:
        target = f"{definition.target:.0%}"
    else:
        target = "none"
    if definition.target_rule == "rate":
        target += " — a rate in the targets table (institution, year) replaces it"
    else:
        target += " — unless the targets table gives a rate for the institution and year"
    parts = ["numerator", "missing"] if definition.lists_missing else ["numerator"]
    return {
        "key": definition.key,
        "label": definition.label,
        "name": definition.name,
        "group": definition.group,
        "numerator": text["numerator"],
        "denominator": text["denominator"],
        "denominator_kind": definition.denominator,
        "window": text["window"],
        "target": target,
        "default_target": definition.target,
        "drilldown_parts": parts,
    }


def markdown_table() -> str:
    """The definitions as the Markdown table of docs/indicators.md (a test keeps them equal)."""
    lines = [
        "| key | indicator | numerator | denominator | window | target | drill-down |",
        "|---|---|---|---|---|---|---|",
    ]
    for definition in DEFINITIONS:
        d = describe(definition)
        cells = [
            f"`{d['key']}`",
            f"{d['label']} ({d['name']})",
            d["numerator"],
            d["denominator"],
            d["window"],
            d["target"],
            " / ".join(d["drilldown_parts"]),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def label_of(key: str) -> str:
    return BY_KEY[key].label


def select_definitions(keys: list[str] | None) -> list[Definition]:
    if not keys:
        return list(DEFINITIONS)
    return [BY_KEY[k] for k in KEYS if k in set(keys)]
