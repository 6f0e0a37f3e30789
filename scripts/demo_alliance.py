"""A made-up but believable alliance of a Chinese city's financial sector (Shenzhen): institutions in
the three ownership classes and four Party-organisation statuses, their committee → general branch →
branch trees, joint branches for small emerging firms, and their members. Deterministic for a seed.
Names and numbers come from Faker('zh_CN') and `demo_ids`; no real person's data."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from demo_ids import SHENZHEN_DISTRICTS, birth_date, make_id_number, make_uscc
from faker import Faker

MAIL_DOMAIN = "demo.alliance.example"

# (ownership, sector, name pattern): {p} is a Faker company prefix
KINDS: dict[str, list[tuple[str, str]]] = {
    "state_owned": [
        ("银行", "{p}银行股份有限公司深圳分行"),
        ("证券", "{p}证券股份有限公司深圳分公司"),
        ("保险", "{p}人寿保险股份有限公司深圳市分公司"),
        ("保险", "{p}财产保险股份有限公司深圳分公司"),
        ("信托", "{p}国际信托有限公司"),
        ("基金", "{p}基金管理有限公司"),
        ("融资租赁", "{p}金融租赁有限公司"),
    ],
    "private": [
        ("银行", "深圳{p}村镇银行股份有限公司"),
        ("证券", "{p}证券有限责任公司"),
        ("基金", "深圳{p}基金管理有限公司"),
        ("保险", "{p}保险经纪有限公司"),
        ("小额贷款", "深圳市{p}小额贷款有限公司"),
        ("期货", "{p}期货有限公司"),
    ],
    "emerging": [
        ("金融科技", "深圳{p}金融科技有限公司"),
        ("私募基金", "深圳市{p}私募股权投资基金管理有限公司"),
        ("支付", "深圳{p}支付科技有限公司"),
        ("商业保理", "深圳前海{p}商业保理有限公司"),
        ("融资租赁", "{p}融资租赁(深圳)有限公司"),
        ("私募基金", "深圳{p}资产管理有限公司"),
    ],
}
STATUS_MIX = {  # Party-organisation status by ownership (分类管理), as shares
    "state_owned": {"established_complete": 0.85, "established_incomplete": 0.15},
    "private": {
        "established_complete": 0.35,
        "established_incomplete": 0.35,
        "not_established_capable": 0.2,
        "not_established_incapable": 0.1,
    },
    "emerging": {
        "established_complete": 0.1,
        "established_incomplete": 0.2,
        "not_established_capable": 0.3,
        "not_established_incapable": 0.4,
    },
}
LEVEL_MIX = {
    "state_owned": {"L3": 0.3, "L2": 0.6, "L1": 0.1},
    "private": {"L2": 0.55, "L1": 0.35, "L3": 0.1},
    "emerging": {"L1": 0.75, "L2": 0.2, "L3": 0.05},
}
_NOT_A_FINANCE_NAME = re.compile(
    r"[A-Za-z0-9]|软件|电子|电脑|网络|信息|科技|传媒|地球|数据|通讯|计算机|公司|浙大|黄石|快讯"
)
# Faker's company prefixes run out after a few dozen; trade names are then made of two auspicious
# characters, as many of the city's financial firms' names are
_TRADE_CHARS = "鹏华信安融泰恒盛嘉诚汇通富鑫瑞丰元宏达兴隆德康宁和新星海金联众祥弘昌鼎稳润招平前南粤深"


@dataclass
class Person:
    name: str
    phone: str
    email: str | None = None


@dataclass
class Member:
    name: str
    id_number: str
    phone: str
    status: str
    joined_at: date
    organization: str  # organisation name (unique within its institutions)
    institution_uscc: str
    pocket: bool = False  # 口袋党员: membership relations not transferred in
    id: str | None = None  # known once registered


@dataclass
class Organization:
    key: str
    name: str
    kind: str  # committee | general_branch | branch | joint_branch
    institution_usccs: list[str]
    parent: str | None
    established_at: date
    secretary: Person
    members: list[Member] = field(default_factory=list)
    id: str | None = None

    @property
    def holds_meetings(self) -> bool:
        return self.kind in ("branch", "joint_branch")


@dataclass
class Institution:
    uscc: str
    name: str
    ownership: str
    sector: str
    party_org_status: str
    reporting_level: str
    alliance_role: str
    contact: Person
    large: bool = False
    joined_at: date | None = None  # entered the alliance (its classification's 生效日期); None: today
    organizations: list[Organization] = field(default_factory=list)
    id: str | None = None
    api_key: str | None = None


@dataclass
class Alliance:
    institutions: list[Institution]
    organizations: list[Organization]

    def members(self) -> Iterator[Member]:
        for org in self.organizations:
            yield from org.members

    @property
    def branches(self) -> list[Organization]:
        return [o for o in self.organizations if o.holds_meetings]


class AllianceBuilder:
    def __init__(self, seed: int, today: date, branch_factor: float = 1.0) -> None:
        self.branch_factor = branch_factor  # a city's institutions have more branches than the demo's
        self.rng = random.Random(seed)
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.today = today
        self._names: set[str] = set()
        self._ids: set[str] = set()
        self._phones: set[str] = set()
        self._prefixes: set[str] = set()
        self._mail = 0

    # -- people -----------------------------------------------------------------------------------
    def phone(self) -> str:
        while True:
            number = self.fake.phone_number()
            if re.fullmatch(r"1[3-9]\d{9}", number) and number not in self._phones:
                self._phones.add(number)
                return number

    def person(self, slug: str) -> Person:
        self._mail += 1
        return Person(self.fake.name(), self.phone(), f"{slug}{self._mail:05d}@{MAIL_DOMAIN}")

    def member(self, org: Organization, uscc: str) -> Member:
        female = self.rng.random() < 0.45
        born = birth_date(self.rng, 23, 60, self.today)
        while True:
            number = make_id_number(self.rng, born, female=female)
            if number not in self._ids:
                self._ids.add(number)
                break
        status = self.rng.choices(["full", "probationary", "candidate", "activist"], [0.9, 0.05, 0.03, 0.02])[0]
        earliest = max(born + timedelta(days=18 * 365 + 30), date(1990, 1, 1))
        latest = min(self.today - timedelta(days=200), org.established_at + timedelta(days=3000))
        joined = earliest + timedelta(days=self.rng.randrange(max(1, (latest - earliest).days)))
        joined = max(joined, org.established_at)  # joined this organisation when it was open
        name = self.fake.name_female() if female else self.fake.name_male()
        # pocket members: common in the joint branches of small firms, rare elsewhere (from the ID
        # number's sequence digits, so the generator's random stream stays as it was)
        pocket = int(number[14:17]) % (5 if org.kind == "joint_branch" else 50) == 0
        return Member(name, number, self.phone(), status, joined, org.name, uscc, pocket)

    # -- institutions -----------------------------------------------------------------------------
    def prefix(self) -> str:
        for _ in range(20):
            p = self.fake.company_prefix()
            if not _NOT_A_FINANCE_NAME.search(p) and 2 <= len(p) <= 4 and p not in self._prefixes:
                self._prefixes.add(p)
                return p
        for attempt in itertools.count():
            # two characters give ~2,000 names; a city of 3,000 institutions needs three-character ones too
            p = "".join(self.rng.sample(_TRADE_CHARS, 2 if attempt < 40 else 3))
            if p not in self._prefixes:
                self._prefixes.add(p)
                return p
        raise AssertionError("unreachable")

    def institution(self, ownership: str, *, large: bool = False) -> Institution:
        sector, pattern = ("银行", "{p}银行股份有限公司深圳市分行") if large else self.rng.choice(KINDS[ownership])
        while True:
            name = pattern.format(p=self.prefix())
            if name not in self._names:
                self._names.add(name)
                break
        status = "established_complete" if large else _pick(self.rng, STATUS_MIX[ownership])
        level = "L3" if large else _pick(self.rng, LEVEL_MIX[ownership])
        role = "member"
        return Institution(
            make_uscc(self.rng, self.rng.choice(SHENZHEN_DISTRICTS)),
            name,
            ownership,
            sector,
            status,
            level,
            role,
            self.person("contact"),
            large=large,
        )

    # -- organisations ----------------------------------------------------------------------------
    def org(
        self,
        inst: Institution,
        name: str,
        kind: str,
        parent: str | None,
        usccs: list[str] | None = None,
        established: date | None = None,
    ) -> Organization:
        established = established or self.today - timedelta(days=self.rng.randrange(400, 9000))
        org = Organization(
            f"{inst.uscc}:{name}", name, kind, usccs or [inst.uscc], parent, established, self.person("secretary")
        )
        inst.organizations.append(org)
        return org

    def tree(self, inst: Institution) -> list[Organization]:
        """committee → general branches → branches for the established; none for the others."""
        if inst.party_org_status.startswith("not_established"):
            return []
        short = inst.name.split("股份")[0].split("有限")[0]
        committee_kind = "committee" if inst.ownership != "emerging" else "general_branch"
        top = self.org(
            inst,
            f"中共{short}委员会" if committee_kind == "committee" else f"中共{short}总支部委员会",
            committee_kind,
            None,
            established=self.today - timedelta(days=self.rng.randrange(3000, 9000)),
        )
        out = [top]
        if inst.large:
            departments = ["公司金融部", "零售金融部", "风险管理部", "运营管理部", "科技部", "机关"]
            for g in range(self._more(self.rng.randrange(2, 4), 0.5)):
                general = self.org(
                    inst,
                    f"中共{short}第{g + 1}总支部委员会",
                    "general_branch",
                    top.name,
                    established=top.established_at + timedelta(days=30),
                )
                out.append(general)
                chosen = self.rng.sample(departments, self.rng.randrange(2, 4))
                names = [f"{general.name[:-4]}{d}支部委员会" for d in chosen]
                names += [
                    f"{general.name[:-4]}第{k + 1}支部委员会" for k in range(self._more(len(chosen), 0.5) - len(chosen))
                ]
                for name in names:
                    out.append(
                        self.org(
                            inst, name, "branch", general.name, established=general.established_at + timedelta(days=10)
                        )
                    )
        else:
            n = {"state_owned": (2, 6), "private": (1, 4), "emerging": (1, 2)}[inst.ownership]
            count = self._more(self.rng.randrange(*n))
            # past eight branches, general branches of up to six branches each come between them and the committee
            parents = [top]
            if count > 8:
                parents = [
                    self.org(
                        inst,
                        f"中共{short}第{g + 1}总支部委员会",
                        "general_branch",
                        top.name,
                        established=top.established_at + timedelta(days=10),
                    )
                    for g in range((count + 5) // 6)
                ]
                out += parents
            for b in range(count):
                parent = parents[b * len(parents) // count]
                out.append(
                    self.org(
                        inst,
                        f"中共{short}第{b + 1}支部委员会",
                        "branch",
                        parent.name,
                        established=top.established_at + timedelta(days=20 + b),
                    )
                )
        return out

    def _more(self, count: int, power: float = 1.0) -> int:
        """`count` scaled by the size's branch factor (to the `power`), at least `count`; the random
        stream is untouched at factor 1, so the default demo stays what it was."""
        if self.branch_factor == 1.0:
            return count
        return max(count, round(count * self.branch_factor**power * self.rng.uniform(0.7, 1.3)))

    def joint_branch(self, firms: list[Institution], number: int) -> Organization:
        host = firms[0]
        district = self.rng.choice(["福田", "南山", "罗湖", "前海"])
        org = self.org(
            host,
            f"中共深圳市{district}新兴金融企业第{number}联合支部委员会",
            "joint_branch",
            None,
            [f.uscc for f in firms],
            established=self.today - timedelta(days=self.rng.randrange(700, 2000)),
        )
        for firm in firms[1:]:
            firm.organizations.append(org)
        return org

    def staff(self, org: Organization, institutions: dict[str, Institution], size: int) -> None:
        for _ in range(size):
            uscc = self.rng.choice(org.institution_usccs)
            org.members.append(self.member(org, uscc))


def build_alliance(
    *,
    institutions: int = 300,
    members: int = 20_000,
    seed: int = 20261128,
    today: date | None = None,
    branch_factor: float = 1.0,
) -> Alliance:
    """`institutions` institutions (≈ 1/5 state-owned, 3/10 private, 1/2 emerging) and about
    `members` members spread over their branches (big banks' branches are bigger); `branch_factor`
    multiplies the branches of each institution (the city's have about five times the demo's)."""
    b = AllianceBuilder(seed, today or date.today(), branch_factor)
    n_state = institutions // 5
    n_private = institutions * 3 // 10
    n_large = max(2, n_state // 4)
    insts = [b.institution("state_owned", large=i < n_large) for i in range(n_state)]
    insts += [b.institution("private") for _ in range(n_private)]
    insts += [b.institution("emerging") for _ in range(institutions - n_state - n_private)]
    insts[0].alliance_role = "chair"
    for i in insts[1:4]:
        i.alliance_role = "vice_chair"
    orgs: list[Organization] = []
    for inst in insts:
        orgs += b.tree(inst)
    joining(insts, seed, b.today)
    # small firms without their own Party organisation share joint branches, three to five at a time
    uncovered = [i for i in insts if i.party_org_status.startswith("not_established") and i.ownership != "state_owned"]
    b.rng.shuffle(uncovered)
    number = 0
    while uncovered:
        take = uncovered[: b.rng.randrange(3, 6)]
        uncovered = uncovered[len(take) :]
        number += 1
        orgs.append(b.joint_branch(take, number))
    by_uscc = {i.uscc: i for i in insts}
    branches = [o for o in orgs if o.holds_meetings]
    weights = [
        (
            6.0
            if by_uscc[o.institution_usccs[0]].large
            else {"state_owned": 3.0, "private": 1.5, "emerging": 1.0}[by_uscc[o.institution_usccs[0]].ownership]
        )
        * (1.5 if o.kind == "joint_branch" else 1.0)
        for o in branches
    ]
    scale = members / sum(weights)
    if sum(max(3.0, w * scale) for w in weights) > members * 1.02:
        # many small branches sit at the floor of three members: spread fewer over the others
        low, high = 0.0, scale
        for _ in range(40):
            scale = (low + high) / 2
            low, high = (scale, high) if sum(max(3.0, w * scale) for w in weights) < members else (low, scale)
    for org, w in zip(branches, weights, strict=True):
        b.staff(org, by_uscc, max(3, round(w * scale * b.rng.uniform(0.7, 1.3))))
    return Alliance(insts, orgs)


def joining(insts: list[Institution], seed: int, today: date) -> None:
    """When each institution entered the alliance: the founders years ago, the others since, and a
    few (one in fifty, at least one) in the last fortnight, too recently to be judged this quarter
    (待评). Those newcomers have Party organisations of their own, so nothing else stands for them.
    A random stream of its own: the alliance itself stays what it was for a seed."""
    rng = random.Random(f"{seed}:joining")
    founded = today - timedelta(days=5 * 365)
    for inst in insts:
        inst.joined_at = founded + timedelta(days=rng.randrange(0, 4 * 365))
    own = [i for i in insts[4:] if any(o.kind != "joint_branch" for o in i.organizations)]
    for inst in rng.sample(own, min(len(own), max(1, len(insts) // 50))):
        inst.joined_at = today - timedelta(days=rng.randrange(3, 15))


def _pick(rng: random.Random, shares: dict[str, float]) -> str:
    return rng.choices(list(shares), list(shares.values()))[0]
