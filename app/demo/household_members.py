"""Who lives together in the demo district: one household's members (relation to the head, sex,
age) drawn against what a centre still needs of each age band (for ``app.demo.households``)."""

from __future__ import annotations

import random

from app.demo import names


class Quota:
    """How many residents of each age band a centre still needs (exact totals)."""

    def __init__(self, child: int, adult: int, elderly: int, under3: int = 0, newborns: int = 0):
        self.left = {"child": child, "adult": adult, "elderly": elderly}
        self.under3 = min(under3, child)  # of the children, how many are still to be under 3 (0–36 months)
        self.newborns = min(newborns, self.under3)  # … and of those, born in the last twelve months

    def child_age(self, rng: random.Random) -> int:
        """The age of the child just taken: under 3 as often as the under-3s still to place require,
        under 1 as often as the newborns still to place require of those."""
        if self.under3 > 0 and rng.random() * (self.left["child"] + 1) < self.under3:
            newborn = rng.random() * self.under3 < self.newborns
            self.under3 -= 1
            if newborn:
                self.newborns -= 1
                return 0
            return rng.randint(1, 2)
        return rng.randint(3, 6)

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


def age_band(age: int) -> str:
    return "child" if age <= 6 else ("elderly" if age >= 65 else "adult")


# Working-age heads of households: Weihai is an old city, more 45–64 than 18–34.
_ADULT_AGE = names.WeightedChoice(
    [(age, 0.8 if age < 25 else 1.0 if age < 35 else 1.1 if age < 45 else 1.35) for age in range(18, 65)]
)


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


def compose_household(rng: random.Random, quota: Quota) -> list[tuple[str, str, int]]:
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
        members.append(("户主" if not members else _child_relation(sex, grand), sex, quota.child_age(rng)))
        if len(members) < 5 and rng.random() < 0.3:
            sex = "male" if rng.random() < 0.52 else "female"
            if left["child"] > 0 and rng.random() < 0.6:
                quota.take("child")
                members.append((_child_relation(sex, grand), sex, quota.child_age(rng)))
            elif not grand and members[0][2] >= 28 and quota.spare_adults() > 0:
                quota.take("adult")
                members.append((_child_relation(sex), sex, rng.randint(7, min(17, members[0][2] - 20))))
        if not grand and members[0][0] == "户主" and len(members) < 5 and rng.random() < 0.22 and quota.take("elderly"):
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
            members.append(
                ("父亲" if sex == "male" else "母亲", sex, min(100, max(65, head_age + rng.randint(22, 34))))
            )
    return members
