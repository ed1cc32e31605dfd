"""The allowed values of the exchange workbook's choice columns (app.exchange.layout): the label a cell
holds, as the national forms print it, the stored value, and the codes or synonyms other systems write."""

from __future__ import annotations

from dataclasses import dataclass

from app.contracts.models import CHANNELS, CONTRACT_STATUSES, TERMINATION_REASONS
from app.followups.models import CLASSIFICATIONS, METHODS
from app.followups.schemas import SYMPTOMS as FOLLOWUP_SYMPTOMS
from app.residents.models import DISEASES, RESIDENCY_TYPES, RESIDENT_STATUSES


@dataclass(frozen=True)
class Choice:
    label: str  # written in the cell, as the form prints it
    value: str  # stored
    aliases: tuple[str, ...] = ()


def _choices(*triples) -> tuple[Choice, ...]:
    return tuple(Choice(t[0], t[1], tuple(t[2:])) for t in triples)


def _check(choices: tuple[Choice, ...], allowed) -> tuple[Choice, ...]:
    # The stored values are the models'; a new value there must get its label here.
    assert {c.value for c in choices} == set(allowed), (sorted(c.value for c in choices), sorted(allowed))
    return choices


SEX = _choices(("男", "male", "1"), ("女", "female", "2"))
RESIDENCY = _check(_choices(("户籍", "registered", "1"), ("非户籍", "non_registered", "2")), RESIDENCY_TYPES)
STATUS = _check(_choices(("在管", "active"), ("迁出", "moved"), ("死亡", "deceased")), RESIDENT_STATUSES)
BLOOD = _choices(("A型", "A"), ("B型", "B"), ("O型", "O"), ("AB型", "AB"), ("不详", "unknown", "未知"))
DISEASE = _check(
    _choices(
        ("高血压", "hypertension"),
        ("2型糖尿病", "t2dm", "糖尿病", "II型糖尿病"),
        ("严重精神障碍", "severe_mental"),
        ("肺结核", "tuberculosis"),
        ("冠心病", "coronary"),
        ("脑卒中", "stroke"),
        ("慢性阻塞性肺疾病", "copd", "慢阻肺"),
    ),
    DISEASES,
)
METHOD = _check(_choices(("门诊", "clinic", "1"), ("家庭", "home", "2"), ("电话", "phone", "3")), METHODS)
CLASSIFICATION = _check(
    _choices(
        ("控制满意", "controlled", "1"),
        ("控制不满意", "uncontrolled", "2"),
        ("不良反应", "adverse_reaction", "3"),
        ("并发症", "complication", "4"),
    ),
    CLASSIFICATIONS,
)
LEVEL = _choices(("良好", "good", "1"), ("一般", "fair", "2"), ("差", "poor", "3"))
ADHERENCE = _choices(("规律", "regular", "1"), ("间断", "intermittent", "2"), ("不服药", "none", "3"))
SALT = _choices(("轻", "light"), ("中", "moderate"), ("重", "heavy"))
PULSE = _choices(("触及正常", "normal", "正常"), ("减弱", "weakened"), ("消失", "absent"))
HYPO = _choices(("无", "none"), ("偶尔", "occasional"), ("频繁", "frequent"))
HTN_SYMPTOMS = _choices(
    ("无症状", "none", "无"),
    ("头痛头晕", "headache_dizziness"),
    ("恶心呕吐", "nausea_vomiting"),
    ("眼花耳鸣", "blurred_vision_tinnitus"),
    ("呼吸困难", "dyspnoea"),
    ("心悸胸闷", "palpitation_chest_tightness"),
    ("鼻衄出血不止", "nosebleed"),
    ("四肢发麻", "limb_numbness"),
    ("下肢水肿", "lower_limb_oedema"),
    ("其他", "other"),
)
T2DM_SYMPTOMS = _choices(
    ("无症状", "none", "无"),
    ("多饮", "polydipsia"),
    ("多食", "polyphagia"),
    ("多尿", "polyuria"),
    ("视力模糊", "blurred_vision"),
    ("感染", "infection"),
    ("手脚麻木", "hand_foot_numbness"),
    ("体重明显下降", "weight_loss"),
    ("其他", "other"),
)
ASSESSMENT = _choices(("体检无异常", "normal", "无异常", "1"), ("有异常", "abnormal", "异常", "2"))
EXERCISE = _choices(("每天", "daily"), ("每周一次以上", "weekly"), ("偶尔", "occasionally"), ("不锻炼", "never"))
SMOKING = _choices(("从不吸烟", "never"), ("已戒烟", "quit"), ("吸烟", "current"))
DRINKING = _choices(("从不", "never"), ("偶尔", "occasionally"), ("经常", "often"), ("每天", "daily"))
SCREEN = _choices(("阴性", "negative", "粗筛阴性"), ("阳性", "positive", "粗筛阳性"))
URINE = _choices(*((v, v) for v in ("-", "±", "+", "++", "+++", "++++")))
CONTRACT_STATUS = _check(
    _choices(
        ("待签约", "pending", "申请中"),
        ("续约待签", "renewal_pending"),
        ("已签约待生效", "scheduled"),
        ("已签约", "active", "履约中"),
        ("已拒绝", "rejected"),
        ("已解约", "terminated"),
        ("已到期", "expired"),
    ),
    CONTRACT_STATUSES,
)
CHANNEL = _check(_choices(("小程序", "mini_program"), ("扫码", "qr_code"), ("门诊", "clinic", "线下")), CHANNELS)
TERMINATION = _check(
    _choices(
        ("迁出", "moved_away"),
        ("失访一年", "unreachable"),
        ("拒绝服务一年", "refused_service"),
        ("主动解约", "voluntary"),
    ),
    TERMINATION_REASONS,
)
DIET = _choices(
    ("荤素均衡", "balanced"),
    ("荤食为主", "meat_heavy"),
    ("素食为主", "vegetarian"),
    ("嗜盐", "salty"),
    ("嗜油", "oily"),
    ("嗜糖", "sweet"),
)
DRINKS = _choices(
    ("白酒", "liquor"), ("啤酒", "beer"), ("红酒", "wine", "葡萄酒"), ("黄酒", "rice_wine"), ("其他", "other")
)
# One list per visit, whichever form it was entered on: a combined visit's symptoms are on both sheets.
SYMPTOMS = _check(HTN_SYMPTOMS[:-1] + T2DM_SYMPTOMS[1:], FOLLOWUP_SYMPTOMS)
