"""The exchange workbook (docs/import.md): one definition read by the export, the importer and the doc.

A sheet per record kind; per column the header the national forms use (国家基本公共卫生服务规范
第三版: 个人基本信息表, 高血压/2型糖尿病患者随访服务记录表, 健康体检表) and the aliases other systems
write, the record attribute it fills, its type, unit, range and allowed values.

``attribute`` is a dotted path from the sheet's record: a column of it (``sbp``), a key inside one of
its JSON columns (``lifestyle.now.cigarettes_per_day``), or a linked record's column
(``institution.code``, ``resident.id_number``). ``id_number`` is the resident's ID number in full
(stored encrypted) — or masked in an export for someone who may not see it. Columns marked
``export_only`` are written for people to read (names, computed values) and ignored by the importer.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.exchange import values as V
from app.exchange.values import Choice

# Types as a cell holds them.
TEXT, INTEGER, DECIMAL, DATE, DATETIME = "text", "integer", "decimal", "date", "datetime"
BOOLEAN, CHOICE, CHOICES, LIST, JSON, ID_NUMBER = "boolean", "choice", "choices", "list", "json", "id_number"
TYPES = {
    TEXT: "text",
    INTEGER: "whole number",
    DECIMAL: "number",
    DATE: "date (a date cell, or text YYYY-MM-DD)",
    DATETIME: "date and time, ISO 8601 text with the offset (2024-03-01T09:30:00+08:00)",
    BOOLEAN: "是 / 否",
    CHOICE: "one of the allowed values",
    CHOICES: "allowed values separated by ；",
    LIST: "texts separated by ；",
    JSON: "JSON text",
    ID_NUMBER: "18-character resident ID number (GB 11643, checksum verified)",
}
SEPARATOR = "；"  # a full-width semicolon: Chinese free text rarely holds one, commas it often does
SEPARATOR_ALIASES = (";",)
BOOLEAN_LABELS = {True: "是", False: "否"}
BOOLEAN_ALIASES = {True: ("有", "1", "Y", "TRUE"), False: ("无", "0", "N", "FALSE")}


@dataclass(frozen=True, eq=False)  # one object per column: hashed by identity, cheap per cell
class Column:
    header: str
    attribute: str
    type: str
    aliases: tuple[str, ...] = ()
    unit: str | None = None
    choices: tuple[Choice, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    required: bool = False
    key: bool = False  # part of the row's identity (with the sheet's fixed values)
    export_only: bool = False
    note: str = ""

    def label_of(self, value) -> str | None:
        return next((c.label for c in self.choices if c.value == value), None)


@dataclass(frozen=True)
class Sheet:
    name: str
    record: str  # the record kind (table) a row is
    description: str
    columns: tuple[Column, ...]
    aliases: tuple[str, ...] = ()
    fixed: tuple[tuple[str, object], ...] = ()  # attributes every row of the sheet has (a visit's disease)

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def key(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.key)


def C(header, attribute, type_=TEXT, *aliases, **kw) -> Column:
    return Column(header=header, attribute=attribute, type=type_, aliases=tuple(aliases), **kw)


def _resident_ref() -> tuple[Column, ...]:
    return (
        C("身份证号", "resident.id_number", ID_NUMBER, *ID_ALIASES, required=True, key=True),
        C("姓名", "resident.name", TEXT, "居民姓名", export_only=True, note="for reading; the ID number decides"),
    )


ID_ALIASES = ("居民身份证号", "身份证号码", "证件号码")

BASIC = Sheet(
    "居民基本信息",
    "residents",
    "个人基本信息表 and the household: one row per archive; the ID number is the resident's key.",
    (
        C("档案编号", "archive_no", TEXT, "健康档案编号", "档案号", max_length=40, note="made when empty"),
        C("姓名", "name", TEXT, "居民姓名", max_length=50, required=True),
        C("身份证号", "id_number", ID_NUMBER, *ID_ALIASES, key=True, note="empty only for a newborn's archive"),
        C("性别", "sex", CHOICE, choices=V.SEX, required=True, note="must agree with the ID number"),
        C("出生日期", "birth_on", DATE, "出生年月日", required=True, note="must agree with the ID number"),
        C("本人电话", "phone", TEXT, "联系电话", "手机号码", "电话", max_length=11, note="an 11-digit mobile number"),
        C("现住址", "address", TEXT, "住址", "地址", max_length=200),
        C("常住类型", "residency_type", CHOICE, "户籍类型", choices=V.RESIDENCY),
        C("民族", "ethnicity", TEXT, max_length=20),
        C("婚姻状况", "marital_status", TEXT, max_length=20),
        C("文化程度", "education", TEXT, max_length=20),
        C("职业", "occupation", TEXT, max_length=40),
        C("血型", "blood_type", CHOICE, "ABO血型", choices=V.BLOOD),
        C("医疗费用支付方式", "payment_methods", LIST, "支付方式", max_length=40, note="at most 10"),
        C("药物过敏史", "allergies", LIST, "过敏史", max_length=40, note="at most 20"),
        C("暴露史", "exposures", LIST, max_length=40, note="at most 20"),
        C("既往史", "past_history", JSON, note="a JSON list: diseases, operations, injuries, transfusions"),
        C("家族史", "family_history", JSON, note="a JSON list"),
        C("残疾情况", "disabilities", LIST, max_length=40, note="at most 10"),
        C("生活环境", "living_environment", JSON, note="a JSON object: kitchen, fuel, water, toilet, livestock"),
        C("持证残疾人", "disabled_certified", BOOLEAN, "残疾证"),
        C("脱贫人口", "poverty_alleviated", BOOLEAN, "脱贫户"),
        C("计划生育特殊家庭", "special_family", BOOLEAN, "计生特殊家庭"),
        C("预产期", "pregnancy_due_on", DATE, note="the ongoing pregnancy's"),
        C("档案状态", "status", CHOICE, choices=V.STATUS),
        C("状态变更日期", "status_changed_on", DATE, "迁出/死亡日期"),
        C("管理机构编码", "institution.code", TEXT, "建档机构编码", "机构编码", required=True, note="in the subtree"),
        C("管理机构", "institution.name", TEXT, "建档机构", export_only=True),
        C("责任团队", "team.name", TEXT, "家庭医生团队", note="a team of the managing institution, by name"),
        C("户编号", "household.code", TEXT, "家庭编号", "户号", max_length=40),
        C("家庭住址", "household.address", TEXT, "户地址", max_length=200),
        C("与户主关系", "relation_to_head", TEXT, max_length=20),
    ),
    aliases=("个人基本信息表", "居民档案"),
)

CONDITIONS = Sheet(
    "慢病登记",
    "conditions",
    "One row per diagnosis on record; (resident, disease) is the key.",
    (
        *_resident_ref(),
        C("疾病", "disease", CHOICE, "慢病种类", "疾病名称", choices=V.DISEASE, required=True, key=True),
        C("确诊日期", "diagnosed_on", DATE, "诊断日期", required=True),
        C("是否在管", "active", BOOLEAN, "管理状态", note="否: no longer managed, the diagnosis stays"),
    ),
)

NOW, TARGET = "lifestyle.now.", "lifestyle.target."


def _visit_sheet(name: str, disease: str, description: str, own: dict[str, tuple[Column, ...]]) -> Sheet:
    """The 随访服务记录表 in the form's order; ``own``: the variant's columns per part of the form."""
    columns = (
        *_resident_ref(),
        C("随访日期", "visit_on", DATE, required=True, key=True),
        C("随访方式", "method", CHOICE, choices=V.METHOD, required=True, note="门诊 and 家庭 are face to face"),
        C("症状", "symptoms", CHOICES, "目前症状", choices=V.SYMPTOMS),
        C("其他症状", "symptoms_other", TEXT, max_length=200),
        C("收缩压", "sbp", INTEGER, unit="mmHg", minimum=60, maximum=300, note="given with 舒张压"),
        C("舒张压", "dbp", INTEGER, unit="mmHg", minimum=30, maximum=200, note="below 收缩压"),
        C("体重", "weight_kg", DECIMAL, unit="kg", minimum=20, maximum=300),
        C("目标体重", "target_weight_kg", DECIMAL, unit="kg", minimum=20, maximum=300),
        C("身高", "height_cm", DECIMAL, unit="cm", minimum=100, maximum=250, note="for the BMI"),
        C("体质指数", "bmi", DECIMAL, "BMI", unit="kg/m²", export_only=True, note="computed"),
        C("目标体质指数", "target_bmi", DECIMAL, unit="kg/m²", export_only=True, note="computed"),
        C("心率", "heart_rate", INTEGER, unit="次/分钟", minimum=20, maximum=250),
        *own["signs"],
        C("日吸烟量", NOW + "cigarettes_per_day", INTEGER, unit="支", minimum=0, maximum=100),
        C("目标日吸烟量", TARGET + "cigarettes_per_day", INTEGER, unit="支", minimum=0, maximum=100),
        C("日饮酒量", NOW + "alcohol_per_day", DECIMAL, unit="两", minimum=0, maximum=50),
        C("目标日饮酒量", TARGET + "alcohol_per_day", DECIMAL, unit="两", minimum=0, maximum=50),
        C("运动次数", NOW + "exercise_times_per_week", INTEGER, unit="次/周", minimum=0, maximum=21),
        C("运动时长", NOW + "exercise_minutes", INTEGER, unit="分钟/次", minimum=0, maximum=600),
        C("目标运动次数", TARGET + "exercise_times_per_week", INTEGER, unit="次/周", minimum=0, maximum=21),
        C("目标运动时长", TARGET + "exercise_minutes", INTEGER, unit="分钟/次", minimum=0, maximum=600),
        *own["lifestyle"],
        C("心理调整", "psychological_adjustment", CHOICE, choices=V.LEVEL),
        C("遵医行为", "compliance", CHOICE, choices=V.LEVEL),
        C("空腹血糖值", "fasting_glucose", DECIMAL, "空腹血糖", unit="mmol/L", minimum=1.0, maximum=35.0),
        *own["tests"],
        C("服药依从性", "adherence", CHOICE, choices=V.ADHERENCE),
        C("药物不良反应", "adverse_reaction", BOOLEAN),
        C("不良反应描述", "adverse_reaction_text", TEXT, max_length=200),
        *own["medication"],
        C("并发症", "complications", LIST, "新发或加重并发症", max_length=100, note="at most 10"),
        C(
            "此次随访分类",
            f"{disease}_classification",
            CHOICE,
            "随访分类",
            choices=V.CLASSIFICATION,
            note="this disease's; empty: computed from the values; another value needs 分类理由",
        ),
        C("分类理由", "classification_reason", TEXT, max_length=300),
        C("用药情况", "medications", JSON, note='a JSON list of {"name", "frequency", "dose"}, at most 20'),
        C("转诊原因", "referral.reason", TEXT, max_length=200),
        C("转诊机构", "referral.institution", TEXT, "转诊机构及科别", max_length=100),
        C("转诊科别", "referral.department", TEXT, max_length=60),
        C("下次随访日期", "next_visit_on", DATE),
        C("随访机构编码", "institution.code", TEXT, note="default: the resident's managing institution"),
        C("随访医生", "recorded_by.name", TEXT, "随访医生签名", export_only=True),
        C("备注", "note", TEXT, max_length=2000),
    )
    return Sheet(name, "followup_visits", description, columns, fixed=((disease, True),))


HYPERTENSION = _visit_sheet(
    "高血压随访",
    "hypertension",
    "高血压患者随访服务记录表: one row per visit, (resident, visit date) its key; a combined visit is on both "
    "follow-up sheets.",
    {
        "signs": (),
        "lifestyle": (
            C("摄盐情况", NOW + "salt_intake", CHOICE, choices=V.SALT),
            C("目标摄盐情况", TARGET + "salt_intake", CHOICE, choices=V.SALT),
        ),
        "tests": (),
        "medication": (),
    },
)
DIABETES = _visit_sheet(
    "糖尿病随访",
    "t2dm",
    "2型糖尿病患者随访服务记录表: one row per visit, (resident, visit date) its key.",
    {
        "signs": (C("足背动脉搏动", "dorsalis_pedis", CHOICE, choices=V.PULSE),),
        "lifestyle": (
            C("主食", NOW + "staple_food_g", INTEGER, "主食量", unit="克/天", minimum=0, maximum=2000),
            C("目标主食", TARGET + "staple_food_g", INTEGER, unit="克/天", minimum=0, maximum=2000),
        ),
        "tests": (
            C("糖化血红蛋白", "hba1c", DECIMAL, "HbA1c", unit="%", minimum=3, maximum=20),
            C("糖化血红蛋白检查日期", "hba1c_on", DATE),
        ),
        "medication": (
            C("低血糖反应", "hypoglycaemia", CHOICE, choices=V.HYPO),
            C("胰岛素种类", "insulin.type", TEXT, max_length=60),
            C("胰岛素用法和用量", "insulin.dose", TEXT, max_length=60),
        ),
    },
)

LIFE, ELDER, LAB = "lifestyle.", "elderly.", "labs."
HEALTH_CHECKS = Sheet(
    "健康体检",
    "health_checks",
    "健康体检表: one row per check, (resident, check date) its key.",
    (
        *_resident_ref(),
        C("体检日期", "checked_on", DATE, required=True, key=True),
        C("体检机构编码", "institution.code", TEXT, note="default: the resident's managing institution"),
        C("症状", "symptoms", LIST, max_length=50, note="at most 30"),
        C("体温", "temperature", DECIMAL, unit="℃", minimum=30, maximum=45),
        C("脉率", "heart_rate", INTEGER, "心率", unit="次/分钟", minimum=20, maximum=250),
        C("呼吸频率", "respiration", INTEGER, unit="次/分钟", minimum=5, maximum=80),
        C("收缩压", "sbp", INTEGER, "血压(收缩压)", unit="mmHg", minimum=40, maximum=300, note="given with 舒张压"),
        C("舒张压", "dbp", INTEGER, "血压(舒张压)", unit="mmHg", minimum=20, maximum=200, note="below 收缩压"),
        C("身高", "height_cm", DECIMAL, unit="cm", minimum=30, maximum=250),
        C("体重", "weight_kg", DECIMAL, unit="kg", minimum=1, maximum=300),
        C("腰围", "waist_cm", DECIMAL, unit="cm", minimum=20, maximum=250),
        C("体质指数", "bmi", DECIMAL, "BMI", unit="kg/m²", export_only=True, note="computed"),
        C("老年人生活自理能力评估", ELDER + "self_care_score", INTEGER, unit="分", minimum=0, maximum=37, note="65+"),
        C(
            "老年人健康状态自我评估",
            ELDER + "health_self_assessment",
            INTEGER,
            minimum=1,
            maximum=5,
            note="1 满意…5 不满意",
        ),
        C("老年人认知功能", ELDER + "cognitive_screen", CHOICE, choices=V.SCREEN),
        C("简易智力状态检查", ELDER + "mmse_score", INTEGER, "MMSE", unit="分", minimum=0, maximum=30),
        C("老年人情感状态", ELDER + "emotional_screen", CHOICE, choices=V.SCREEN),
        C("老年人抑郁评分", ELDER + "depression_score", INTEGER, unit="分", minimum=0, maximum=30),
        C("锻炼频率", LIFE + "exercise_frequency", CHOICE, choices=V.EXERCISE),
        C("每次锻炼时间", LIFE + "exercise_minutes", INTEGER, unit="分钟", minimum=0, maximum=600),
        C("坚持锻炼时间", LIFE + "exercise_years", INTEGER, unit="年", minimum=0, maximum=100),
        C("锻炼方式", LIFE + "exercise_type", TEXT, max_length=50),
        C("饮食习惯", LIFE + "diet", CHOICES, choices=V.DIET),
        C("吸烟状况", LIFE + "smoking", CHOICE, choices=V.SMOKING),
        C("日吸烟量", LIFE + "cigarettes_per_day", INTEGER, unit="支", minimum=0, maximum=100),
        C("开始吸烟年龄", LIFE + "smoking_start_age", INTEGER, unit="岁", minimum=5, maximum=100),
        C("戒烟年龄", LIFE + "quit_smoking_age", INTEGER, unit="岁", minimum=5, maximum=120),
        C("饮酒频率", LIFE + "drinking", CHOICE, choices=V.DRINKING),
        C("日饮酒量", LIFE + "alcohol_ml_per_day", INTEGER, unit="ml", minimum=0, maximum=3000),
        C("饮酒种类", LIFE + "drinking_types", CHOICES, choices=V.DRINKS),
        C("职业病危害因素接触史", LIFE + "occupational_exposure", TEXT, max_length=200),
        C("脏器功能", "organ_function", JSON, note="a JSON object of texts: 口腔, 视力, 听力, 运动功能"),
        C("查体", "physical_exam", JSON, note="a JSON object of texts: 皮肤, 巩膜, 心脏, 肺 …"),
        C("血红蛋白", LAB + "hemoglobin", DECIMAL, unit="g/L", minimum=20, maximum=250),
        C("白细胞", LAB + "wbc", DECIMAL, unit="×10⁹/L", minimum=0.1, maximum=100),
        C("血小板", LAB + "platelets", DECIMAL, unit="×10⁹/L", minimum=1, maximum=2000),
        C("尿蛋白", LAB + "urine_protein", CHOICE, choices=V.URINE),
        C("尿糖", LAB + "urine_glucose", CHOICE, choices=V.URINE),
        C("空腹血糖", "fasting_glucose", DECIMAL, unit="mmol/L", minimum=0.5, maximum=50),
        C("糖化血红蛋白", LAB + "hba1c", DECIMAL, "HbA1c", unit="%", minimum=2, maximum=20),
        C("血清谷丙转氨酶", LAB + "alt", DECIMAL, "ALT", unit="U/L", minimum=0, maximum=5000),
        C("血清谷草转氨酶", LAB + "ast", DECIMAL, "AST", unit="U/L", minimum=0, maximum=5000),
        C("总胆红素", LAB + "total_bilirubin", DECIMAL, unit="μmol/L", minimum=0, maximum=1000),
        C("血清肌酐", LAB + "creatinine", DECIMAL, unit="μmol/L", minimum=5, maximum=3000),
        C("血尿素", LAB + "urea", DECIMAL, "血尿素氮", unit="mmol/L", minimum=0.5, maximum=100),
        C("总胆固醇", LAB + "total_cholesterol", DECIMAL, unit="mmol/L", minimum=0.5, maximum=30),
        C("甘油三酯", LAB + "triglycerides", DECIMAL, unit="mmol/L", minimum=0.1, maximum=50),
        C("血清低密度脂蛋白胆固醇", LAB + "ldl", DECIMAL, "LDL-C", unit="mmol/L", minimum=0.1, maximum=20),
        C("血清高密度脂蛋白胆固醇", LAB + "hdl", DECIMAL, "HDL-C", unit="mmol/L", minimum=0.1, maximum=10),
        C("心电图", LAB + "ecg", TEXT, max_length=200),
        C("胸部X线片", LAB + "chest_xray", TEXT, max_length=200),
        C("B超", LAB + "ultrasound", TEXT, "腹部B超", max_length=200),
        C("现存主要健康问题", "main_findings", JSON, note="a JSON list"),
        C("主要用药情况", "medications", JSON, note='a JSON list of {"name", "dose", "frequency"}'),
        C("健康评价", "assessment", CHOICE, choices=V.ASSESSMENT),
        C("异常情况", "abnormalities", LIST),
        C("健康指导", "guidance", LIST),
        C("危险因素控制", "risk_factor_guidance", LIST),
        C("责任医生", "recorded_by.name", TEXT, export_only=True),
        C("备注", "note", TEXT, max_length=2000),
    ),
)

CONTRACTS = Sheet(
    "签约",
    "contracts",
    "家庭医生签约服务协议: one row per contract period with its packages, (resident, start date) its key. "
    "Applications not yet signed (待签约, 已拒绝 without a period) are not exchanged.",
    (
        *_resident_ref(),
        C("签约开始日期", "starts_on", DATE, "协议生效日期", "服务开始日期", required=True, key=True),
        C("签约结束日期", "ends_on", DATE, "协议到期日期", "服务结束日期", required=True),
        C("签约状态", "status", CHOICE, "协议状态", choices=V.CONTRACT_STATUS, required=True),
        C("签约机构编码", "team.institution.code", TEXT, "团队机构编码", required=True),
        C("签约团队", "team.name", TEXT, "家庭医生团队", required=True, note="a team of that institution, by name"),
        C("签约医生", "doctor.name", TEXT, "责任医生", "家庭医生", note="a member of the team, by name"),
        C(
            "服务包",
            "packages",
            LIST,
            "签约服务包",
            "服务包编码",
            note="package codes; CODE@VERSION for a past version",
        ),
        C("服务包名称", "package_names", LIST, export_only=True),
        C("签约渠道", "channel", CHOICE, "签约方式", choices=V.CHANNEL, required=True),
        C("签约时间", "signed_at", DATETIME, "签约日期", note="empty for a signed contract: its 同意时间"),
        C("同意时间", "consent_at", DATETIME, "知情同意时间", required=True),
        C("签约费用", "fee", DECIMAL, "服务费", unit="元", minimum=0, maximum=100000, note="to the fen (2 decimals)"),
        C(
            "公卫补助",
            "public_health_subsidy",
            DECIMAL,
            "基本公卫经费",
            unit="元",
            minimum=0,
            maximum=100000,
            note="to the fen (2 decimals)",
        ),
        C("解约日期", "terminated_on", DATE),
        C("解约原因", "termination_reason", CHOICE, choices=V.TERMINATION),
        C("解约说明", "termination_note", TEXT, max_length=200),
    ),
)

SHEETS: tuple[Sheet, ...] = (BASIC, CONDITIONS, HYPERTENSION, DIABETES, HEALTH_CHECKS, CONTRACTS)
BY_NAME = {sheet.name: sheet for sheet in SHEETS}
