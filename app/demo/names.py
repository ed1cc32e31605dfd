"""Plausible Chinese names, phone numbers and places for the demo district.

Everything here is made up. Surnames are weighted roughly like their frequency in
Weihai (Shandong): the national top surnames plus the local ones (于, 孙, 丛, 曲, 毕,
邹, 谷, 姜, 戚 …) that any Weihai list is full of. Given names follow the fashion of
the decade a person was born in, so a grandmother is 桂兰 and her granddaughter 梓涵.

Every function takes the caller's ``random.Random``: nothing reads the global
generator, so a seed always gives the same people.
"""

from __future__ import annotations

import bisect
import itertools
import random

# (surname, relative weight ~ share of the local population in ‰)
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 78),
    ("张", 62),
    ("李", 55),
    ("刘", 50),
    ("于", 45),
    ("孙", 42),
    ("曲", 22),
    ("丛", 20),
    ("毕", 16),
    ("林", 18),
    ("宋", 18),
    ("杨", 20),
    ("赵", 20),
    ("徐", 16),
    ("陈", 18),
    ("姜", 16),
    ("邹", 12),
    ("谷", 10),
    ("高", 14),
    ("董", 12),
    ("郭", 10),
    ("吕", 8),
    ("戚", 7),
    ("鞠", 7),
    ("田", 8),
    ("梁", 7),
    ("周", 9),
    ("吴", 8),
    ("马", 8),
    ("朱", 7),
    ("胡", 6),
    ("何", 5),
    ("郑", 6),
    ("谢", 4),
    ("韩", 7),
    ("唐", 4),
    ("冯", 5),
    ("许", 5),
    ("邓", 3),
    ("曹", 5),
    ("彭", 3),
    ("曾", 2),
    ("肖", 4),
    ("袁", 3),
    ("潘", 3),
    ("蒋", 3),
    ("蔡", 3),
    ("余", 2),
    ("杜", 4),
    ("叶", 3),
    ("程", 3),
    ("苏", 4),
    ("魏", 4),
    ("丁", 5),
    ("任", 4),
    ("沈", 2),
    ("姚", 3),
    ("卢", 3),
    ("崔", 5),
    ("钟", 2),
    ("谭", 2),
    ("陆", 2),
    ("汪", 2),
    ("范", 3),
    ("金", 3),
    ("石", 3),
    ("廖", 1),
    ("贾", 3),
    ("夏", 2),
    ("韦", 1),
    ("付", 3),
    ("方", 2),
    ("白", 2),
    ("邢", 3),
    ("侯", 3),
    ("孔", 3),
    ("常", 2),
    ("慕", 2),
    ("隋", 4),
    ("初", 4),
    ("车", 2),
    ("连", 2),
    ("汤", 2),
    ("柳", 2),
    ("梅", 1),
    ("殷", 2),
    ("傅", 2),
    ("房", 2),
    ("衣", 3),
    ("修", 2),
    ("乔", 2),
    ("岳", 2),
    ("薛", 2),
    ("葛", 2),
    ("战", 2),
)

# Given-name characters by era of birth and sex. "neutral" goes to both.
_GIVEN = {
    "old": {  # born before 1960
        "male": "建国军华明德福强平文成广志永春海山林忠民富贵庆祥发学胜宝玉清俊兴义顺生",
        "female": "秀英兰桂芳凤珍玉梅花荣琴淑云霞翠娥芝香莲素爱菊月杏敏慧",
        "neutral": "春秋明玉新金",
    },
    "mid": {  # 1960-1989
        "male": "伟刚勇军杰涛斌波辉鹏超磊强明峰东林海亮健飞新宏志晓俊鑫彬龙",
        "female": "丽娟艳红燕霞玲静敏芳萍婷琳颖倩晶慧雪莉华梅丹洁娜蕾岩",
        "neutral": "晓文建小海春立永",
    },
    "young": {  # 1990 and later
        "male": "浩宇轩子涵博文泽睿杰铭宸昊然皓俊凯阳煜一辰航瑞豪鸿嘉晨烨祺",
        "female": "欣怡梓涵雨诗语若可馨萱琪佳悦彤瑶思雅婉汐淑妍晴月心恩沐",
        "neutral": "子梓一欣雨嘉宇思可晨",
    },
}

ETHNICITIES: tuple[tuple[str, float], ...] = (
    ("汉族", 992),
    ("满族", 3),
    ("回族", 2),
    ("朝鲜族", 1.5),
    ("蒙古族", 1),
    ("土家族", 0.5),
)

# Mobile prefixes of the three carriers (all valid: 1[3-9]x).
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "173",
    "175",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
)

# Street names per urban centre, village names per township (roughly where they are).
ROADS = {
    "鲸园社区卫生服务中心": ("新威路", "海港路", "东城路", "胜利街", "和平路", "公园路", "鲸园路", "北门外街"),
    "环翠楼社区卫生服务中心": ("环山路", "统一路", "北门路", "古寨东路", "文化西路", "光明路", "塔山中路", "环翠路"),
    "竹岛社区卫生服务中心": ("青岛中路", "昆明路", "海滨中路", "竹岛路", "福山路", "文化东路", "大庆路", "齐鲁大道"),
    "嵩山社区卫生服务中心": ("高山路", "嵩山路", "文化中路", "新华路", "戚谷疃路", "世昌大道", "青岛北路", "新园街"),
    "孙家疃社区卫生服务中心": (
        "海滨北路",
        "望岛路",
        "仙姑顶路",
        "孙家疃路",
        "金线顶路",
        "合庆路",
        "小石岛路",
        "远遥路",
    ),
    "蓝卡": ("沈阳路", "青岛南路", "华夏路", "蓝卡路", "皇冠路", "科技路", "统一南路", "宝泉路"),
}
TOWN_SEATS = {
    "张村镇卫生院": ("张村镇", ("张村路", "江家寨路", "石家河路", "沟北路")),
    "羊亭中心卫生院": ("羊亭镇", ("羊亭路", "港头路", "纬一路", "经二路")),
    "温泉镇卫生院": ("温泉镇", ("温泉路", "观里路", "汤泊路", "河西路")),
    "桥头镇卫生院": ("桥头镇", ("桥头路", "沙岭路", "龙山路", "北石岭路")),
}
VILLAGES = {
    "张村镇卫生院": ("北江疃", "南江疃", "姜家疃", "王家疃", "崮山后", "沟北", "石家河", "张家山", "九龙湾"),
    "羊亭中心卫生院": ("港头", "宋家洼", "西涝台", "姜家庄", "孙家滩", "黄家庄", "蒿泊", "羊亭东"),
    "温泉镇卫生院": ("温泉汤", "河西", "南曲阜", "观里", "高家庄", "林家院", "汤泊", "后峰西"),
    "桥头镇卫生院": ("沙岭", "北石岭", "南石岭", "小落", "于家夼", "西河北", "口子", "南庄"),
}
_GENERIC_ROADS = ("幸福路", "建设路", "人民路", "和平路", "长青路", "海景路", "花园路", "振华路")
_ORDINALS = "一二三四五六七八九十"


class WeightedChoice:
    """Draw from a fixed weighted list in O(log n) with the caller's generator."""

    def __init__(self, items):
        self.values = [value for value, _ in items]
        self.cumulative = list(itertools.accumulate(weight for _, weight in items))
        self.total = self.cumulative[-1]

    def __call__(self, rng: random.Random):
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


_SURNAME = WeightedChoice(SURNAMES)
_ETHNICITY = WeightedChoice(ETHNICITIES)


def surname(rng: random.Random) -> str:
    return _SURNAME(rng)


def _era(birth_year: int) -> str:
    if birth_year < 1960:
        return "old"
    if birth_year < 1990:
        return "mid"
    return "young"


def given_name(rng: random.Random, sex: str, birth_year: int) -> str:
    pool = _GIVEN[_era(birth_year)]
    own = pool[sex]
    # One character for about a quarter of people (more among the young), else two.
    single = rng.random() < (0.3 if birth_year >= 1990 else 0.2)
    if single:
        return rng.choice(own)
    first = rng.choice(own + pool["neutral"])
    second = rng.choice(own)
    while second == first and len(own) > 1:
        second = rng.choice(own)
    return first + second


def full_name(rng: random.Random, sex: str, birth_year: int, family: str | None = None) -> str:
    return (family or surname(rng)) + given_name(rng, sex, birth_year)


def ethnicity(rng: random.Random) -> str:
    return _ETHNICITY(rng)


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"


def roads_for(centre_name: str) -> tuple[str, ...]:
    return ROADS.get(centre_name, _GENERIC_ROADS)


def town_of(centre_name: str) -> tuple[str, tuple[str, ...]] | None:
    return TOWN_SEATS.get(centre_name)


def villages_for(centre_name: str, count: int) -> list[str]:
    names = list(VILLAGES.get(centre_name, ()))
    while len(names) < count:
        names.append(f"{_ORDINALS[len(names) % 10]}村")
    return names[:count]


def ordinal(n: int) -> str:
    """1 -> 一 … 10 -> 十 (enough for clinic names)."""
    return _ORDINALS[n - 1] if 1 <= n <= 10 else str(n)


def short_name(centre_name: str) -> str:
    """鲸园社区卫生服务中心 -> 鲸园; 张村镇卫生院 -> 张村镇; 羊亭中心卫生院 -> 羊亭."""
    for suffix in ("社区卫生服务中心", "中心卫生院", "卫生院"):
        if centre_name.endswith(suffix):
            return centre_name[: -len(suffix)]
    return centre_name
