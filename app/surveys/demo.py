"""Demo step ``surveys``: one satisfaction and one awareness survey, running today, with their
invitations and a few hundred plausible answers (200 each at scale 0.01; 3,000 and 2,000 at full
scale).

- 满意度 (satisfaction), of the district: the key populations (65+, hypertension, T2DM), 6
  questions; a respondent is satisfied when positive on ≥ 75 % (3 of 4) of the scored questions;
- 知晓率 (awareness), of the first centre (HC01, where the showcase residents live): every
  resident, 6 questions; aware when positive on ≥ 80 % (4 of 5).
Invitations are one INSERT … SELECT each with the very target clause publishing uses (no
reminders are queued for demo data). Children under 14, and some residents of 80 and over,
answer through a family member of their household (``proxy``). Everything is bulk-inserted.
"""

from __future__ import annotations

import random
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import insert, literal, select

from app.common import time as clock
from app.common.types import UTCDateTime
from app.extensions import db
from app.residents.models import Resident
from app.surveys.models import (
    Survey,
    SurveyAnswer,
    SurveyAnswerOption,
    SurveyInvitation,
    SurveyOption,
    SurveyQuestion,
    SurveyResponse,
)
from app.surveys.publishing import target_clause
from app.surveys.rules import is_positive_respondent

SATISFACTION_LABELS = ("非常不满意", "不满意", "一般", "满意", "非常满意")
KNOWLEDGE_LABELS = ("完全不了解", "不太了解", "一般", "比较了解", "非常了解")

# (text, type, required, [(label, positive)])
SATISFACTION_QUESTIONS = (
    (
        "您对家庭医生团队的服务态度是否满意？",
        "scale",
        True,
        [(label, v >= 4) for v, label in enumerate(SATISFACTION_LABELS, 1)],
    ),
    (
        "您对家庭医生的专业技术水平是否满意？",
        "scale",
        True,
        [(label, v >= 4) for v, label in enumerate(SATISFACTION_LABELS, 1)],
    ),
    (
        "您对签约后获得的健康管理服务（随访、体检等）是否满意？",
        "single",
        True,
        [("满意", True), ("基本满意", True), ("不满意", False), ("说不清", False)],
    ),
    (
        "遇到健康问题时，您能否方便地联系到您的家庭医生？",
        "single",
        True,
        [("能，随时联系得上", True), ("大多数时候能", True), ("很难联系上", False), ("没有联系过", False)],
    ),
    (
        "您最希望家庭医生增加哪些服务？（可多选）",
        "multi",
        False,
        [("上门服务", False), ("慢病用药指导", False), ("中医药服务", False), ("预约转诊", False), ("健康讲座", False)],
    ),
    ("您对家庭医生签约服务还有什么意见或建议？", "text", False, []),
)
AWARENESS_QUESTIONS = (
    ("您是否听说过家庭医生签约服务？", "single", True, [("听说过", True), ("没听说过", False)]),
    ("您知道自己的家庭医生（或家庭医生团队）是谁吗？", "single", True, [("知道", True), ("不知道", False)]),
    (
        "国家基本公共卫生服务项目是否免费向居民提供？",
        "single",
        True,
        [("是，免费提供", True), ("需要收费", False), ("不清楚", False)],
    ),
    (
        "以下哪些属于国家基本公共卫生服务？（可多选）",
        "multi",
        True,
        [
            ("建立居民健康档案", True),
            ("65岁及以上老年人健康管理", True),
            ("高血压患者健康管理", True),
            ("住院手术费用报销", False),
        ],
    ),
    (
        "您对家庭医生签约服务内容的了解程度",
        "scale",
        True,
        [(label, v >= 4) for v, label in enumerate(KNOWLEDGE_LABELS, 1)],
    ),
    ("您希望通过哪些渠道了解家庭医生和公共卫生服务？", "text", False, []),
)
SATISFACTION_COMMENTS = (
    "医生态度很好，随访很及时。",
    "希望增加上门服务的次数。",
    "预约挂号还是不太方便，希望能在小程序上预约。",
    "家庭医生电话有时打不通。",
    "体检报告希望能早点拿到并有人解读。",
    "希望社区多配一些慢病常用药。",
    "医生很耐心，讲解很清楚，非常感谢！",
    "周末也希望能有医生值班。",
    "希望多开展中医理疗服务。",
    "随访时间能否提前通知？",
    "整体很满意，希望继续保持。",
    "排队时间有点长。",
)
AWARENESS_COMMENTS = (
    "微信小程序推送",
    "社区宣传栏",
    "家庭医生上门讲解",
    "电视和广播",
    "村委会通知",
    "短信提醒",
    "社区健康讲座",
    "孩子帮忙在手机上看",
    "医院门诊宣传",
    "微信群",
)

SURVEYS = (
    # kind, owner ("district" or the first centre), title, introduction, populations, opened days ago, closes in
    # days, threshold ‰, respondents at scale 1, chance a respondent is positive at heart, questions, comments
    (
        "satisfaction",
        "district",
        "家庭医生签约服务满意度调查",
        "为了解您对家庭医生签约服务的感受、改进服务质量，请您根据实际情况填写。问卷匿名统计，约需2分钟。",
        ["elderly", "hypertension", "t2dm"],
        21,
        30,
        750,
        3000,
        0.93,
        SATISFACTION_QUESTIONS,
        SATISFACTION_COMMENTS,
    ),
    (
        "awareness",
        "centre",
        "家庭医生签约与基本公共卫生服务知晓情况调查",
        "本调查了解居民对家庭医生签约服务和国家基本公共卫生服务项目的知晓情况，约需2分钟。",
        [],
        14,
        45,
        800,
        2000,
        0.88,
        AWARENESS_QUESTIONS,
        AWARENESS_COMMENTS,
    ),
)
MIN_RESPONDENTS = 200
PROXY_OLD_AGE = 80


def _choose(rng: random.Random, options: list[dict], want_positive: bool, kind: str) -> list[dict]:
    """Chosen options for one answer, leaning to positive or not."""
    good = [o for o in options if o["positive"]]
    bad = [o for o in options if not o["positive"]]
    if kind == "multi":
        if not good:  # an unscored wish list: one to three picks
            return sorted(rng.sample(options, rng.randint(1, min(3, len(options)))), key=lambda o: o["position"])
        if want_positive or not bad:
            return sorted(rng.sample(good, rng.randint(1, len(good))), key=lambda o: o["position"])
        extra = rng.sample(good, rng.randint(0, len(good)))
        return sorted([*extra, rng.choice(bad)], key=lambda o: o["position"])
    pool = good if (want_positive and good) or not bad else bad
    if kind == "scale":  # 5 over 4 when positive; 3 most often when not
        weights = [0.45, 0.55] if pool is good else [0.15, 0.3, 0.55][-len(pool) :]
        return [rng.choices(pool, weights=weights[: len(pool)])[0]]
    return [rng.choice(pool)]


def seed_surveys(ctx) -> None:
    """Two running surveys of the district with invitations and answers (see the module doc)."""
    if ctx.bureau is None:
        return
    refs = {ref.id: ref for group in ctx.residents.values() for ref in group}
    households: dict[int, list] = {}
    for ref in refs.values():
        households.setdefault(ref.household_id, []).append(ref)
    today = ctx.today
    for (
        kind,
        owner,
        title,
        intro,
        populations,
        opened_ago,
        closes_in,
        permille,
        full_count,
        p_positive,
        questions,
        comments,
    ) in SURVEYS:
        rng = ctx.rng("surveys", kind)
        if owner == "district" or not ctx.centres:
            site, admin_id = ctx.bureau, ctx.staff_ids.get("admin")
        else:
            site = ctx.centres[0].site
            admin_id = ctx.staff_ids.get(f"{site.code.lower()}-admin")
        survey_id = ctx.new_id(Survey)
        opens_on, closes_on = today - timedelta(days=opened_ago), today + timedelta(days=closes_in)
        published_at = clock.at_local(opens_on, 8, 30)
        ctx.insert(
            Survey,
            [
                dict(
                    id=survey_id,
                    kind=kind,
                    title=title,
                    introduction=intro,
                    institution_id=site.id,
                    populations=populations,
                    population_match="any",
                    opens_on=opens_on,
                    closes_on=closes_on,
                    positive_threshold_permille=permille,
                    status="published",
                    created_by_id=admin_id,
                    published_by_id=admin_id,
                    created_at=published_at - timedelta(days=3),
                    updated_at=published_at,
                    published_at=published_at,
                )
            ],
        )
        question_rows, option_rows, built = [], [], []
        question_ids = ctx.allocate_ids(SurveyQuestion, len(questions))
        for position, (question_id, (text, qtype, required, options)) in enumerate(
            zip(question_ids, questions, strict=True), 1
        ):
            question_rows.append(
                dict(id=question_id, survey_id=survey_id, position=position, text=text, type=qtype, required=required)
            )
            opts = []
            for number, (option_id, (label, positive)) in enumerate(
                zip(ctx.allocate_ids(SurveyOption, len(options)), options, strict=True), 1
            ):
                row = dict(
                    id=option_id,
                    question_id=question_id,
                    position=number,
                    label=label,
                    positive=positive,
                    value=number if qtype == "scale" else None,
                )
                option_rows.append(row)
                opts.append(row)
            built.append(
                dict(
                    id=question_id,
                    type=qtype,
                    required=required,
                    options=opts,
                    scored=qtype != "text" and any(o["positive"] for o in opts),
                )
            )
        ctx.insert(SurveyQuestion, question_rows)
        ctx.insert(SurveyOption, option_rows)

        # invitations: the same target clause as publishing, one statement
        target = SimpleNamespace(
            institution=SimpleNamespace(path=site.path), populations=populations, population_match="any"
        )
        db.session.execute(
            insert(SurveyInvitation.__table__).from_select(
                ["survey_id", "resident_id", "invited_at"],
                select(literal(survey_id), Resident.id, literal(clock.at_local(opens_on, 9), UTCDateTime)).where(
                    target_clause(target, opens_on)
                ),
            )
        )
        invited = db.session.scalars(
            select(SurveyInvitation.resident_id)
            .where(SurveyInvitation.survey_id == survey_id)
            .order_by(SurveyInvitation.resident_id)
        ).all()
        ctx.counts["survey_invitations"] += len(invited)

        wanted = min(len(invited), max(MIN_RESPONDENTS, ctx.scaled(full_count)))
        response_rows, answer_rows, chosen_rows = [], [], []
        window = max(1, int((ctx.now - clock.at_local(opens_on, 9)).total_seconds()))
        candidates = list(invited)
        rng.shuffle(candidates)
        for resident_id in candidates:
            if len(response_rows) >= wanted:
                break
            ref = refs.get(resident_id)
            submitted_by, proxy = resident_id, False
            if ref is not None:
                age = clock.age_on(ref.birth_on, today)
                if age < 14 or (age >= PROXY_OLD_AGE and rng.random() < 0.4):
                    helpers = [
                        r
                        for r in households.get(ref.household_id, ())
                        if r.id != ref.id and 18 <= clock.age_on(r.birth_on, today) < PROXY_OLD_AGE
                    ]
                    if helpers:
                        submitted_by, proxy = rng.choice(helpers).id, True
                    elif age < 14:
                        continue  # a child answers only through a guardian
            response_id = ctx.new_id(SurveyResponse)
            at_heart = rng.random() < p_positive
            scored = positive = 0
            for question in built:
                if not question["required"] and rng.random() < (0.55 if question["type"] == "text" else 0.1):
                    continue
                if question["type"] == "text":
                    if rng.random() < 0.5:
                        continue
                    answer_rows.append(
                        dict(
                            id=ctx.new_id(SurveyAnswer),
                            response_id=response_id,
                            question_id=question["id"],
                            value=None,
                            text=rng.choice(comments),
                            positive=None,
                        )
                    )
                    continue
                lean = rng.random() < (0.96 if at_heart else 0.3)
                picked = _choose(rng, question["options"], lean, question["type"])
                is_positive = all(o["positive"] for o in picked) if question["scored"] else None
                answer_id = ctx.new_id(SurveyAnswer)
                answer_rows.append(
                    dict(
                        id=answer_id,
                        response_id=response_id,
                        question_id=question["id"],
                        value=picked[0]["value"] if question["type"] == "scale" else None,
                        text=None,
                        positive=is_positive,
                    )
                )
                for option in picked:
                    chosen_rows.append(dict(answer_id=answer_id, option_id=option["id"]))
                if is_positive is not None:
                    scored += 1
                    positive += is_positive
            response_rows.append(
                dict(
                    id=response_id,
                    survey_id=survey_id,
                    resident_id=resident_id,
                    account_id=None,
                    submitted_by_resident_id=submitted_by,
                    proxy=proxy,
                    scored_count=scored,
                    positive_count=positive,
                    submitted_at=clock.at_local(opens_on, 9) + timedelta(seconds=rng.randrange(window)),
                )
            )
        for row, option_id in zip(chosen_rows, ctx.allocate_ids(SurveyAnswerOption, len(chosen_rows)), strict=True):
            row["id"] = option_id
        ctx.insert(SurveyResponse, response_rows)
        ctx.insert(SurveyAnswer, answer_rows)
        ctx.insert(SurveyAnswerOption, chosen_rows)
        satisfied = sum(is_positive_respondent(r["scored_count"], r["positive_count"], permille) for r in response_rows)
        ctx.notes.append(
            f"Survey {survey_id} ({kind}, {site.name}) “{title}”: {len(invited)} invited, "
            f"{len(response_rows)} answered, {satisfied} {'satisfied' if kind == 'satisfaction' else 'aware'}"
            f" — GET /api/v1/surveys/{survey_id}/results as admin or an -admin of the centre"
        )
