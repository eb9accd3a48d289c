"""The demo generator: three years of realistic, deterministic credit files for Henan's transport
sector, drawn from the catalogue (catalogue.py, data/*.toml)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from stdnum.cn import ric

from domain import codes
from domain.events import RECORD_EVENT_TYPES, SUBJECT_KINDS
from domain.publication import add_months
from domain.subject import natural_key
from domain.working_days import WorkingDayCalendar
from service.clock import FixedClock
from service.commanding.cases import CaseDesk
from service.commanding.commands import RecordCommand, RegisterSubject, record_command_adapter
from service.commanding.credit_files import BatchItem, CreditFiles
from service.commanding.identity import record_id_for
from service.commanding.importing.columns import ORGANISATIONS
from service.demo.cases import CASE_MONTHS, CaseDocket, CaseTarget, plan_cases
from service.demo.catalogue import (
    ADMINISTRATIVE,
    AUTHORITIES,
    BIRTH_REGIONS,
    CITIES,
    CITY_WEIGHTS,
    COMMENDATIONS,
    COMMITMENT_TEXT,
    CONDUCTS,
    COUNTIES,
    ENTERPRISE_ROLES,
    FEMALE_NAMES,
    INDIVIDUAL_ROLES,
    LOCAL,
    MALE_NAMES,
    OWNER_ROLE,
    PROVINCE,
    PUBLIC_BODY_KINDS,
    PUBLIC_ROLE,
    PUNISHMENTS,
    REWARDS,
    SURNAMES,
    TRADE_NAMES,
    VEHICLE_ROLES,
    VIOLATIONS,
    Authority,
    Conduct,
    Role,
    uscc,
)

__all__ = ["RECORDED_BY", "DemoSummary", "seed_demo"]

RECORDED_BY = "demo-seed"
YEARS = 3
FOLLOW_UP_GAP = 11  # days: a follow-up is decided after its target was surely recorded
MAX_LAG = 10  # days between a decision and its recording


@dataclass
class DemoSummary:
    subjects_by_kind: dict[str, int]
    records_by_type: dict[str, int]
    # One code per kind, for the README; individuals get their subject id, never an ID number.
    example_codes: dict[str, str]
    cases_by_kind: dict[str, int] = field(default_factory=dict)  # repair, objection


_PROFILES = {"clean": 25, "normal": 47, "troubled": 15, "exemplary": 13}
_SEVERITY_WEIGHTS = {
    "exemplary": (100, 0, 0),
    "clean": (70, 30, 0),
    "normal": (52, 45, 3),
    "troubled": (40, 47, 13),
}
_SEVERITIES = ("minor", "general", "serious")
_SEVERITY_CN = {"minor": "轻微", "general": "一般", "serious": "严重"}
_GRADE_ORDER = ("D", "C", "B", "A", "AA", "AAA")


# --- Subjects ---------------------------------------------------------------------------------


@dataclass(eq=False)
class _Subject:
    index: int
    role: Role
    code: str
    name: str
    region: str
    city: str
    profile: str
    active_from: date  # registered on; no record is decided before
    bureau: Authority
    enforcer: Authority
    subject_id: UUID | None = None
    command: RegisterSubject | None = None
    owner: _Subject | None = None

    @property
    def kind(self) -> str:
        return self.role.kind


def _kind_counts(total: int) -> dict[str, int]:
    shares = {"enterprise": 0.55, "individual": 0.25, "vehicle": 0.15, "public_body": 0.05}
    counts = {kind: int(total * share) for kind, share in shares.items()}
    if total >= len(shares):
        for kind in counts:
            counts[kind] = max(counts[kind], 1)
    counts["enterprise"] += total - sum(counts.values())
    return counts


class _SubjectFactory:
    def __init__(self, rng: random.Random, start: date, end: date):
        self.rng = rng
        self.start = start
        self.end = end
        self.codes: set[str] = set()
        self.names: set[str] = set()
        self.subjects: list[_Subject] = []

    def make(self, kind: str, count: int) -> None:
        for _ in range(count):
            maker = {
                "enterprise": self._enterprise,
                "individual": self._individual,
                "vehicle": self._vehicle,
                "public_body": self._public_body,
            }[kind]
            self.subjects.append(maker())

    # Helpers
    def _pick_role(self, roles: tuple[Role, ...]) -> Role:
        return self.rng.choices(roles, weights=[r.weight for r in roles])[0]

    def _pick_city(self) -> str:
        return self.rng.choices(list(CITY_WEIGHTS), weights=list(CITY_WEIGHTS.values()))[0]

    def _active_from(self, newcomer_share: float) -> date:
        if self.rng.random() >= newcomer_share:
            return self.start
        span = (self.end - self.start).days
        return self.start + timedelta(days=self.rng.randint(30, max(31, span * 5 // 6)))

    def _profile(self, weights: dict[str, int] = _PROFILES) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def _subject(
        self,
        role: Role,
        code: str,
        name: str,
        region: str,
        city: str,
        profile: str,
        active_from: date,
    ) -> _Subject:
        self.codes.add(code)
        self.names.add(name)
        local = "province" if role.provincial or city == "province" else city
        bureau, enforcer = LOCAL[local]
        if role.provincial and city in LOCAL:
            enforcer = LOCAL[city][1]  # construction sites are inspected by the city
        return _Subject(
            len(self.subjects),
            role,
            code,
            name,
            region,
            city,
            profile,
            active_from,
            bureau,
            enforcer,
        )

    def _unique_uscc(self, registrar: str, region: str, newer: bool) -> str:
        alphabet = codes.USCC_ALPHABET
        while True:
            if newer:
                body = "MA" + "".join(self.rng.choice(alphabet) for _ in range(6))
            else:
                body = "".join(self.rng.choice("0123456789") for _ in range(8))
            code = uscc(registrar, region, body)
            if code not in self.codes:
                return code

    # Kinds
    def _enterprise(self) -> _Subject:
        role = self._pick_role(ENTERPRISE_ROLES)
        rng = self.rng
        city = self._pick_city()
        if role.provincial and rng.random() < 0.3:
            city = "province"
        for _attempt in range(50):  # names may repeat only when the word lists run out
            if city == "province":
                prefix = rng.choice(("河南", "河南省", "北京"))
                region = (
                    "410000"
                    if prefix.startswith("河南")
                    else rng.choice(("110000", "110105", "110108"))
                )
            else:
                prefix = CITIES[city].short
                region = rng.choice(CITIES[city].regions)
            name = prefix + rng.choice(TRADE_NAMES) + rng.choice(role.name_endings)
            if name not in self.names:
                break
        active_from = self._active_from(0.15)
        code = self._unique_uscc("91", region, newer=active_from > self.start or rng.random() < 0.5)
        return self._subject(role, code, name, region, city, self._profile(), active_from)

    def _individual(self) -> _Subject:
        rng = self.rng
        role = self._pick_role(INDIVIDUAL_ROLES)
        male = rng.random() < (0.93 if role.label != "staff" else 0.85)
        name = rng.choices(SURNAMES, weights=[40 - i // 2 for i in range(len(SURNAMES))])[0]
        name += rng.choice(MALE_NAMES if male else FEMALE_NAMES)
        while True:
            born = date(1960, 1, 1) + timedelta(
                days=rng.randint(0, (date(2000, 12, 31) - date(1960, 1, 1)).days)
            )
            sequence = rng.randint(0, 499) * 2 + (1 if male else 0)
            first17 = f"{rng.choice(BIRTH_REGIONS)}{born:%Y%m%d}{sequence:03d}"
            code = first17 + ric.calc_check_digit(first17 + "0")
            if code not in self.codes:
                break
        city = self._pick_city()
        return self._subject(
            role,
            code,
            name,
            CITIES[city].regions[0],
            city,
            self._profile(),
            self._active_from(0.2),
        )

    def _vehicle(self) -> _Subject:
        rng = self.rng
        role = self._pick_role(VEHICLE_ROLES)
        city = self._pick_city()
        plate_prefix = CITIES[city].plate
        letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
        while True:
            digits = "".join(rng.choice("0123456789") for _ in range(5))
            if role.label == "巡游出租汽车" and rng.random() < 0.8:
                plate = plate_prefix + rng.choice("DF") + digits  # new-energy car: 豫AD12345
            elif role.label == "大型普通客车" and rng.random() < 0.4:
                plate = plate_prefix + digits + "D"  # new-energy bus: 豫A12345D
            elif rng.random() < 0.3:
                plate = (
                    plate_prefix
                    + rng.choice(letters.replace("D", "").replace("F", ""))
                    + digits[:4]
                )
            else:
                plate = plate_prefix + digits
            if plate not in self.codes:
                break
        owners = [
            s for s in self.subjects if s.role.label == OWNER_ROLE[role.label] and s.city == city
        ]
        owner = rng.choice(owners) if owners else None
        name = f"{owner.name if owner else '个体运输户'} {role.label}"
        subject = self._subject(
            role,
            plate,
            name,
            CITIES[city].regions[0],
            city,
            self._profile(),
            self._active_from(0.2),
        )
        subject.owner = owner
        return subject

    def _public_body(self) -> _Subject:
        rng = self.rng
        for _attempt in range(50):  # names may repeat only when the word lists run out
            county, region, city = rng.choice(COUNTIES)
            name = county + rng.choices(PUBLIC_BODY_KINDS, weights=(6, 2, 2))[0]
            if name not in self.names:
                break
        while True:
            code = uscc("11", region, "00" + "".join(rng.choice("0123456789") for _ in range(6)))
            if code not in self.codes:
                break
        profile = self._profile({"clean": 45, "normal": 35, "troubled": 10, "exemplary": 10})
        return self._subject(PUBLIC_ROLE, code, name, region, city, profile, self.start)


# --- Planning records -------------------------------------------------------------------------


_WORKING_DAYS = WorkingDayCalendar()  # the service's own calendar: demo dates follow its rules


def _is_workday(day: date) -> bool:
    return _WORKING_DAYS.is_working_day(day)[0]


@dataclass(eq=False)
class _Planned:
    subject: _Subject
    type: str
    decision: date
    recorded: date
    authority: Authority
    word: str  # decision-number word: 罚 in 郑交执罚〔2024〕0123号
    details: dict[str, Any]
    links: dict[str, _Planned]
    seq: int
    severity: str | None = None
    source_ref: str = ""
    protected: bool = False  # led to a list decision or licence action: not revoked later

    def record_id(self) -> UUID:
        assert self.subject.subject_id is not None and self.source_ref
        key = natural_key(self.type, self.authority.code, self.source_ref)
        return record_id_for(self.subject.subject_id, key)


@dataclass
class _ListState:
    entry: _Planned
    exit_on: date | None = None
    reason: str = ""


@dataclass
class _Planner:
    rng: random.Random
    start: date
    end: date
    items: list[_Planned] = field(default_factory=list)

    # Dates
    def workday_from(self, day: date) -> date:
        for _ in range(10):
            if _is_workday(day):
                return day
            day += timedelta(days=1)
        return day

    def random_day(self, first: date, last: date | None = None) -> date:
        last = last or self.end
        if last <= first:
            return first
        return first + timedelta(days=self.rng.randint(0, (last - first).days))

    def later(self, day: date, low: int, high: int) -> date:
        return day + timedelta(days=self.rng.randint(low, high))

    def recorded_on(self, decision: date) -> date:
        lag = self.rng.choices(range(MAX_LAG + 1), weights=(18, 16, 14, 11, 9, 8, 7, 6, 4, 4, 3))[0]
        recorded = decision + timedelta(days=lag)
        while not _is_workday(recorded) and (recorded - decision).days < MAX_LAG:
            recorded += timedelta(days=1)
        return min(recorded, self.end)

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    # Records
    def add(
        self,
        subject: _Subject,
        record_type: str,
        decision: date,
        authority: Authority,
        word: str,
        details: dict[str, Any],
        links: dict[str, _Planned] | None = None,
        severity: str | None = None,
    ) -> _Planned | None:
        links = links or {}
        for target in links.values():
            decision = max(decision, target.decision + timedelta(days=FOLLOW_UP_GAP))
        decision = self.workday_from(max(decision, subject.active_from))
        if decision > self.end:
            return None
        recorded = self.recorded_on(decision)
        assert all(target.recorded <= recorded for target in links.values())
        item = _Planned(
            subject,
            record_type,
            decision,
            recorded,
            authority,
            word,
            details,
            links,
            len(self.items),
            severity,
        )
        self.items.append(item)
        return item


def _yuan(fine: Decimal) -> str:
    yuan = fine * 10000
    if yuan >= 10000 and yuan % 10000 == 0:
        return f"{int(yuan) // 10000}万元"
    return f"{int(yuan)}元"


def _what(item: _Planned) -> str:
    """The misconduct a penalty, conduct or breach record is about, in a few words."""
    return (
        item.details.get("violation_type") or item.details.get("conduct_type") or "未履行信用承诺"
    )


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


class _SubjectPlan:
    """Plans one subject's history: base records first, then what follows from them."""

    def __init__(self, planner: _Planner, subject: _Subject):
        self.p = planner
        self.rng = planner.rng
        self.s = subject
        self.conduct: list[_Planned] = []  # penalties and dishonest conduct, any order
        self.licences: list[_Planned] = []
        self.revoked_licences: set[int] = set()
        self.ratings: list[_Planned] = []
        self.lists: dict[str, list[_ListState]] = defaultdict(list)

    # Scale: newcomers have had less time to collect records.
    def share(self) -> float:
        total = (self.p.end - self.p.start).days or 1
        return (self.p.end - self.s.active_from).days / total

    def scaled(self, count: int) -> int:
        share = self.share()
        whole = int(count * share)
        return whole + (1 if self.rng.random() < count * share - whole else 0)

    def plan(self) -> None:
        role = self.s.role
        if role.licence:
            self.plan_licences()
        self.plan_commitments()
        self.plan_penalties()
        self.plan_conducts()
        if role.scheme:
            self.plan_ratings()
        self.plan_lists()
        self.plan_interviews()
        self.plan_commendations()
        self.plan_administrative_information()

    # Licences -----------------------------------------------------------------------------
    def plan_licences(self) -> None:
        s, p, rng = self.s, self.p, self.rng
        category, document, certificate, content, years = s.role.licence  # type: ignore[misc]
        share = {"enterprise": 0.9, "individual": 0.8, "vehicle": 0.75}[s.kind]
        if not p.chance(share):
            return
        newcomer = s.active_from > p.start
        if newcomer:
            day = p.later(s.active_from, 3, 40)
        else:
            day = p.random_day(p.start + timedelta(days=20), p.end - timedelta(days=60))
        authority = PROVINCE if s.role.provincial else s.bureau
        commitment = None
        if s.kind != "vehicle" and p.chance(0.35):
            commitment_type = rng.choice(
                ("approval_substitute", "deficiency_tolerant")
                if s.kind == "enterprise"
                else ("certification_notice",)
            )
            commitment = self.commitment(day, authority, commitment_type)
        renewals = {"enterprise": "（延续）", "individual": "（换证）", "vehicle": "（换发）"}
        renewal = renewals[s.kind]
        licence = self.grant(
            day,
            authority,
            category,
            document,
            certificate,
            content if newcomer else content + renewal,
            years,
        )
        if licence and commitment:
            self.commitment_outcome(commitment, licence)
        if licence and s.kind == "enterprise" and p.chance(0.35):
            change = self.grant(
                p.later(licence.decision, 90, 700),
                authority,
                category,
                document.replace("决定书", "变更决定书"),
                certificate,
                f"{content}（变更：经营地址、车辆数量变更）",
                years,
            )
            if change and s.profile == "clean" and p.chance(0.3):
                self.revoke_licence(
                    change,
                    p.later(change.decision, 60, 400),
                    "经营者申请终止经营，依法注销行政许可",
                )

    def grant(
        self,
        day: date,
        authority: Authority,
        category: str,
        document: str,
        certificate: str,
        content: str,
        years: int,
    ) -> _Planned | None:
        s = self.s
        decided = self.p.workday_from(max(day, s.active_from))
        number = None
        if s.kind == "enterprise":
            number = f"豫交运管许可{s.region}{self.rng.randint(10000, 99999)}号"
        elif s.kind == "vehicle":
            number = f"豫交运管{s.region[:4]}{self.rng.randint(100000, 999999)}号"
        elif s.role.label == "staff":
            number = f"豫交安B（{decided.year}）{self.rng.randint(1000, 9999):07d}"
        licence = self.p.add(
            s,
            "LicenceGranted",
            decided,
            authority,
            "许",
            {
                "licence_type": category,
                "document_name": document,
                "content": content,
                "valid_from": decided,
                "valid_until": add_months(decided, 12 * years),
                "certificate_name": certificate,
                "licence_number": number,
            },
        )
        if licence:
            self.licences.append(licence)
        return licence

    def revoke_licence(self, licence: _Planned, day: date, reason: str) -> _Planned | None:
        if licence.seq in self.revoked_licences:
            return None
        item = self.p.add(
            self.s,
            "LicenceRevoked",
            day,
            licence.authority,
            "撤许",
            {"reason": reason},
            {"licence_record_id": licence},
        )
        if item:
            self.revoked_licences.add(licence.seq)
            licence.protected = True
        return item

    # Commitments ----------------------------------------------------------------------------
    def commitment(
        self,
        day: date,
        authority: Authority,
        commitment_type: str,
        due_days: tuple[int, int] | None = (30, 120),
    ) -> _Planned | None:
        due = self.p.later(day, *due_days) if due_days else None
        return self.p.add(
            self.s,
            "CommitmentMade",
            day,
            authority,
            "承诺",
            {
                "commitment_type": commitment_type,
                "content": COMMITMENT_TEXT[commitment_type],
                "due_date": due,
            },
        )

    def commitment_outcome(
        self, commitment: _Planned | None, licence: _Planned | None = None
    ) -> None:
        if commitment is None or commitment.details["due_date"] is None:
            return
        due = commitment.details["due_date"]
        breach_chance = {"troubled": 0.5, "normal": 0.08}.get(self.s.profile, 0.0)
        authority = commitment.authority
        if self.p.chance(breach_chance):
            breached = self.p.add(
                self.s,
                "CommitmentBreached",
                due,
                authority,
                "违诺",
                {
                    "severity": "general",
                    "description": "未在承诺期限内履行承诺，经核查承诺内容与实际情况不符",
                },
                {"commitment_record_id": commitment},
                severity="general",
            )
            if (
                breached
                and licence
                and commitment.details["commitment_type"] == "approval_substitute"
                and self.p.chance(0.6)
            ):
                self.revoke_licence(
                    licence,
                    self.p.later(breached.decision, 5, 30),
                    "告知承诺内容与实际情况不符，依法撤销行政许可",
                )
            if breached:
                self.conduct.append(breached)
        else:
            self.p.add(
                self.s,
                "CommitmentFulfilled",
                self.p.later(due, -20, 5),
                authority,
                "履诺",
                {"note": "经核查，已按承诺履行"},
                {"commitment_record_id": commitment},
            )

    def plan_commitments(self) -> None:
        s, p = self.s, self.p
        if s.kind == "public_body":
            for year in range(p.start.year, p.end.year + 1):
                if p.chance(0.7):
                    self.commitment(
                        p.random_day(date(year, 1, 10), date(year, 3, 31)),
                        s.bureau,
                        "voluntary_disclosure",
                        None,
                    )
        elif s.kind == "enterprise" and p.chance(0.4):
            self.commitment(
                p.random_day(p.start),
                s.bureau,
                p.rng.choice(("voluntary_disclosure", "industry_self_discipline")),
                None,
            )

    # Penalties and dishonest conduct ---------------------------------------------------------
    def plan_penalties(self) -> None:
        s = self.s
        if s.role.violations is None:
            return
        counts = {
            "enterprise": {
                "clean": (0, 0),
                "exemplary": (0, 1),
                "normal": (0, 4),
                "troubled": (3, 8),
            },
            "individual": {
                "clean": (0, 0),
                "exemplary": (0, 0),
                "normal": (0, 3),
                "troubled": (2, 6),
            },
            "vehicle": {"clean": (0, 0), "exemplary": (0, 0), "normal": (0, 3), "troubled": (2, 6)},
        }[s.kind][s.profile]
        for _ in range(self.scaled(self.rng.randint(*counts))):
            self.penalty(self.p.random_day(s.active_from))

    def penalty(self, day: date, severity: str | None = None) -> _Planned | None:
        s, rng = self.s, self.rng
        if severity is None:
            severity = rng.choices(_SEVERITIES, weights=_SEVERITY_WEIGHTS[s.profile])[0]
        violation = rng.choice(VIOLATIONS[s.role.violations][severity])  # type: ignore[index]
        fine = Decimal(rng.choice(violation.fines)) if violation.fines else None
        categories = []
        if severity == "minor" and (fine is None or rng.random() < 0.3):
            categories.append("警告")
        if fine is not None:
            categories.append("罚款")
        action = None
        if severity == "serious" and violation.licence_action and rng.random() < 0.5:
            action = violation.licence_action
            categories.append("吊销许可证件")
        if not categories:
            categories.append("警告")
        small = Decimal("0.02") if s.kind == "individual" else Decimal("0.3")
        simplified = severity == "minor" and (fine is None or fine <= small) and rng.random() < 0.7
        parts = [c for c in categories if c == "警告"]
        if fine is not None:
            parts.append(f"罚款人民币{_yuan(fine)}")
        if action:
            parts.append(action)
        decided = self.p.workday_from(day)
        subject_name = s.name
        if s.kind == "vehicle":
            subject_name = f"{s.owner.name if s.owner else '车辆所有人'}（{s.code}）"
        item = self.p.add(
            s,
            "PenaltyDecided",
            decided,
            s.enforcer,
            "简罚" if simplified else "罚",
            {
                "severity": severity,
                "procedure": "simplified" if simplified else "general",
                "violation_type": violation.name,
                "facts": f"{_cn_date(decided)}，执法人员检查发现，"
                f"当事人{subject_name}{violation.facts}。",
                "legal_basis": violation.basis,
                "penalty_categories": categories,
                "content": "，".join(parts),
                "fine_amount": fine,
                "licence_action": action,
            },
            severity=severity,
        )
        if item is None:
            return None
        self.conduct.append(item)
        if action:
            held = [
                lic
                for lic in self.licences
                if lic.decision < item.decision and lic.seq not in self.revoked_licences
            ]
            if held:
                item.protected = True
                self.revoke_licence(
                    held[-1],
                    self.p.later(item.decision, 3, 20),
                    f"依据行政处罚决定（{violation.name}）{action}",
                )
        return item

    def plan_conducts(self) -> None:
        s, p, rng = self.s, self.p, self.rng
        if not s.role.conducts:
            return
        if s.kind == "vehicle" and s.role.violations == "truck":
            # Overload cases: a penalty, and for the worse ones a dishonest-conduct record.
            for penalty in [c for c in self.conduct if c.type == "PenaltyDecided"]:
                if penalty.severity in ("general", "serious") and p.chance(0.75):
                    self.conduct_record(
                        CONDUCTS["overload"], p.later(penalty.decision, 0, 6), penalty.severity
                    )
            return
        number = {
            "clean": 0,
            "exemplary": 0,
            "normal": rng.choice((0, 0, 0, 1)),
            "troubled": rng.choice((1, 1, 2, 3)),
        }[s.profile]
        if s.role.conducts[0] is CONDUCTS["refusal"] and s.profile == "normal":
            number = rng.choice((0, 1, 1, 2))
        for _ in range(self.scaled(number)):
            conduct = rng.choice(s.role.conducts)
            severity = rng.choice(conduct.severities)
            if severity == "serious" and s.profile != "troubled":
                severity = "general" if "general" in conduct.severities else severity
            self.conduct_record(conduct, p.random_day(s.active_from), severity)

    def conduct_record(self, conduct: Conduct, day: date, severity: str) -> _Planned | None:
        s = self.s
        authority = s.enforcer if s.kind != "public_body" else PROVINCE
        who = s.name if s.kind != "vehicle" else f"{s.code}号车辆"
        item = self.p.add(
            s,
            "DishonestConductRecorded",
            day,
            authority,
            "失信",
            {
                "severity": severity,
                "conduct_type": conduct.conduct_type,
                "description": f"{who}{conduct.description}（{_SEVERITY_CN[severity]}失信）",
                "legal_basis": conduct.basis,
            },
            severity=severity,
        )
        if item:
            self.conduct.append(item)
        return item

    def conduct_before(self, day: date, days: int = 365) -> list[_Planned]:
        return [c for c in self.conduct if day - timedelta(days=days) <= c.decision < day]

    # Ratings ----------------------------------------------------------------------------------
    def plan_ratings(self) -> None:
        s, p = self.s, self.p
        scheme = s.role.scheme
        authority = PROVINCE if s.role.provincial or s.kind == "public_body" else s.bureau
        anniversary = p.random_day(date(2001, 1, 1), date(2001, 12, 28))
        previous: str | None = None
        for year in range(p.start.year, p.end.year + 1):
            if scheme == "highway_construction":
                day = p.random_day(date(year, 4, 8), date(year, 4, 30))
            elif scheme == "road_transport_quality":
                day = p.random_day(date(year, 5, 15), date(year, 6, 20))
            elif scheme == "driver_integrity":
                day = date(year, anniversary.month, anniversary.day)
            else:
                day = p.random_day(date(year, 3, 1), date(year, 3, 31))
            if day < p.start or day > p.end or day < s.active_from + timedelta(days=300):
                continue
            if s.kind == "public_body" and not p.chance(0.8):
                continue
            grade, score = self.grade(scheme, day, previous)  # type: ignore[arg-type]
            decided = p.workday_from(day)
            item = p.add(
                s,
                "RatingIssued",
                decided,
                authority,
                "评",
                {
                    "scheme": scheme,
                    "grade": grade,
                    "valid_from": decided,
                    "valid_until": add_months(decided, 12),
                    "score": score,
                },
            )
            if item:
                self.ratings.append(item)
                previous = grade

    def grade(self, scheme: str, day: date, previous: str | None) -> tuple[str, Decimal | None]:
        rng, profile = self.rng, self.s.profile
        recent = self.conduct_before(day)
        serious = sum(c.severity == "serious" for c in recent)
        general = sum(c.severity == "general" for c in recent)
        minor = sum(c.severity == "minor" for c in recent)
        if scheme == "highway_construction":
            base = {"exemplary": 96.5, "clean": 91, "normal": 86, "troubled": 76}[profile]
            value = base + rng.uniform(-4, 3.5) - 5 * general - 14 * serious - 1.5 * minor
            value = max(45.0, min(100.0, value))
            score = Decimal(round(value * 2) / 2).quantize(Decimal("0.1"))
            grade = _band(score)
            if previous and _GRADE_ORDER.index(grade) > _GRADE_ORDER.index(previous) + 1:
                # A subject can rise at most one grade a year.
                grade = _GRADE_ORDER[_GRADE_ORDER.index(previous) + 1]
                low = {"C": 60, "B": 75, "A": 85, "AA": 95}[grade]
                score = Decimal(low + rng.randint(0, 8) / 2).quantize(Decimal("0.1"))
            return grade, score
        if scheme == "driver_integrity":
            points = 20 * serious + rng.choice((5, 10)) * general + rng.choice((1, 3)) * minor
            if points == 0:
                return (
                    "AAA" if profile in ("exemplary", "clean") or rng.random() < 0.6 else "AA"
                ), None
            return ("AA" if points <= 10 else "A" if points < 20 else "B"), None
        if scheme == "road_transport_quality":
            ladder: tuple[str, ...] = ("B", "A", "AA", "AAA")
            level = {
                "exemplary": 3,
                "clean": rng.choice((2, 3)),
                "normal": rng.choice((1, 2, 2)),
                "troubled": rng.choice((0, 1)),
            }[profile]
            level -= min(level, 2 * serious + (1 if general >= 2 else 0))
            return ladder[level], None
        ladder = ("D", "C", "B", "A", "AA")
        level = {
            "exemplary": 4,
            "clean": rng.choice((3, 4)),
            "normal": rng.choice((2, 3, 3)),
            "troubled": rng.choice((1, 2)),
        }[profile]
        level -= min(level, 2 * serious + (1 if general >= 2 else 0))
        return ladder[level], None

    # Lists ------------------------------------------------------------------------------------
    def open_at(self, list_type: str, day: date) -> _ListState | None:
        for state in self.lists[list_type]:
            if state.entry.decision <= day and (state.exit_on is None or day < state.exit_on):
                return state
        return None

    def free_from(self, list_type: str) -> date | None:
        """The first day a new entry may be decided, or None when the list is still open."""
        states = self.lists[list_type]
        if not states:
            return self.p.start
        last = states[-1]
        if last.exit_on is None:
            return None
        return last.exit_on + timedelta(days=FOLLOW_UP_GAP)

    def enter(self, list_type: str, day: date, basis: str, months: int) -> _ListState | None:
        free = self.free_from(list_type)
        if free is None:
            return None
        day = max(day, free)
        authority = PROVINCE if self.s.role.provincial else self.s.bureau
        word = {"red": "红", "black": "黑", "watch": "重关"}[list_type]
        entry = self.p.add(
            self.s,
            "ListEntered",
            day,
            authority,
            word,
            {
                "list_type": list_type,
                "basis": basis,
                "planned_end": add_months(self.p.workday_from(day), months),
            },
        )
        if entry is None:
            return None
        state = _ListState(entry)
        self.lists[list_type].append(state)
        return state

    def plan_lists(self) -> None:
        s, p = self.s, self.p
        triggers: list[tuple[date, int, str, _Planned]] = []
        for item in self.conduct:
            triggers.append((item.decision, item.seq, "conduct", item))
        for rating in self.ratings:
            triggers.append((rating.decision, rating.seq, "rating", rating))
        triggers.sort(key=lambda t: (t[0], t[1]))
        top = {
            "highway_construction": "AA",
            "road_transport_quality": "AAA",
            "sector_default": "AA",
            "driver_integrity": "AAA",
        }
        for day, _, what, item in triggers:
            red = self.open_at("red", day)
            if what == "conduct":
                if red and item.severity != "minor":
                    exit_on = p.workday_from(p.later(max(day, red.entry.decision), 11, 25))
                    if red.exit_on is None or exit_on < red.exit_on:
                        red.exit_on = exit_on
                        red.reason = f"因{_what(item)}受到行政处罚或失信认定，移出守信激励名单"
                black_chance = {
                    "enterprise": 0.4,
                    "vehicle": 0.5,
                    "individual": 0.25,
                    "public_body": 0.3,
                }[s.kind]
                if item.severity == "serious" and p.chance(black_chance):
                    self.black(item)
                elif item.severity in ("minor", "general"):
                    recent = [
                        c
                        for c in self.conduct_before(day + timedelta(days=1))
                        if c.severity in ("minor", "general")
                    ]
                    if (len(recent) >= 3 and p.chance(0.5)) or (
                        item.severity == "general" and s.profile == "troubled" and p.chance(0.1)
                    ):
                        self.watch(item)
            elif (
                item.details["grade"] == top[item.details["scheme"]]
                and s.kind == "enterprise"
                and s.profile in ("exemplary", "clean")
                and p.chance(0.5)
                and not self.conduct_before(day)
                and not self.open_at("black", day)
                and not self.open_at("watch", day)
                and not red
            ):
                self.red(item)
        for list_type, states in self.lists.items():
            for state in states:
                if state.exit_on is not None and state.exit_on <= p.end:
                    authority = state.entry.authority
                    p.add(
                        s,
                        "ListExited",
                        state.exit_on,
                        authority,
                        "移出",
                        {"reason": state.reason},
                        {"entry_record_id": state.entry},
                    )
                    if list_type == "black":
                        repair = self.commitment(
                            p.later(state.exit_on, -60, -30), authority, "repair", (150, 200)
                        )
                        self.commitment_outcome(repair)

    def black(self, cause: _Planned) -> None:
        p, s = self.p, self.s
        what = _what(cause)
        label = "严重失信主体名单"
        if s.role.violations == "truck":
            label = "严重违法失信超限超载运输当事人名单"
        state = self.enter(
            "black", p.later(cause.decision, 15, 45), f"因{what}，经认定列入{label}", 36
        )
        if state is None:
            return
        cause.protected = True
        red = self.open_at("red", state.entry.decision)
        if red:
            red.exit_on = state.entry.decision
            red.reason = "列入严重失信主体名单，移出守信激励名单"
        if p.chance(0.55):
            state.exit_on = p.workday_from(p.later(state.entry.decision, 365, 600))
            state.reason = "失信行为已纠正、义务已履行并作出信用修复承诺，准予信用修复，移出名单"
        if s.kind in ("enterprise", "vehicle", "public_body"):
            for _ in range(p.rng.choice((1, 1, 2))):
                agency, measure, matter = p.rng.choice(PUNISHMENTS[s.kind])
                self.joint_measure(
                    p.later(state.entry.decision, 20, 200),
                    state,
                    "punishment",
                    agency,
                    measure,
                    matter,
                )

    def watch(self, cause: _Planned) -> None:
        p = self.p
        state = self.enter(
            "watch",
            p.later(cause.decision, 10, 30),
            "一年内多次受到行政处罚或存在较重失信行为，列入重点关注名单",
            12,
        )
        if state is None:
            return
        cause.protected = True
        if p.chance(0.7):
            state.exit_on = p.workday_from(p.later(state.entry.decision, 180, 365))
            state.reason = "整改到位，经评估移出重点关注名单"
        if self.s.kind in ("enterprise", "individual", "public_body") and p.chance(0.6):
            self.interview(
                p.later(state.entry.decision, 3, 20),
                "warning",
                "列入重点关注名单后进行警示约谈，责令限期整改并报送整改报告",
            )

    def red(self, rating: _Planned) -> None:
        p, s = self.p, self.s
        free = self.free_from("red")
        if free is None:
            return
        day = p.workday_from(max(p.later(rating.decision, 20, 45), free, s.active_from))
        # The service judges a red-list entry on its own day (the policy's red-list criteria):
        # no conduct within the twelve months before, no serious conduct still published (36
        # months at most), not on the black list.
        if (
            any(add_months(day, -12) < c.decision <= day for c in self.conduct)
            or any(
                c.severity == "serious" and add_months(day, -36) < c.decision <= day
                for c in self.conduct
            )
            or self.open_at("black", day)
        ):
            return
        state = self.enter(
            "red",
            day,
            f"信用评价为{rating.details['grade']}级且近一年无不良信用记录，列入守信激励名单",
            12,
        )
        if state is None:
            return
        state.exit_on = add_months(state.entry.decision, 12)
        state.reason = "守信激励名单有效期届满，依规移出"
        if s.kind == "enterprise" and p.chance(0.5):
            agency, measure, matter = p.rng.choice(REWARDS)
            self.joint_measure(
                p.later(state.entry.decision, 20, 200), state, "reward", agency, measure, matter
            )

    def joint_measure(
        self,
        day: date,
        state: _ListState,
        measure_type: str,
        agency: str,
        measure: str,
        matter: str,
    ) -> None:
        if state.exit_on is not None and day >= state.exit_on:
            return
        self.p.add(
            self.s,
            "JointMeasureApplied",
            day,
            state.entry.authority,
            "联惩" if measure_type == "punishment" else "联奖",
            {
                "measure_type": measure_type,
                "measure": measure,
                "applying_agency": agency,
                "matter": matter,
            },
        )

    # Interviews and commendations ------------------------------------------------------------
    def interview(self, day: date, interview_type: str, matter: str) -> None:
        authority = PROVINCE if self.s.kind == "public_body" else self.s.bureau
        self.p.add(
            self.s,
            "InterviewHeld",
            day,
            authority,
            "约谈",
            {"interview_type": interview_type, "matter": matter},
        )

    def plan_interviews(self) -> None:
        s, p = self.s, self.p
        if s.kind == "vehicle":
            return
        for item in list(self.conduct):
            if item.severity == "minor" or not p.chance(0.25):
                continue
            what = _what(item)
            kind = "warning" if item.severity == "serious" else "prompt"
            label = "警示" if kind == "warning" else "提示"
            self.interview(
                p.later(item.decision, 5, 30), kind, f"就{what}问题进行{label}约谈，责令限期整改"
            )

    def plan_commendations(self) -> None:
        s, p = self.s, self.p
        chance = {"exemplary": 0.6, "clean": 0.12}.get(s.profile, 0.0)
        if s.kind == "vehicle" or not p.chance(chance):
            return
        titles = COMMENDATIONS.get(s.role.label, COMMENDATIONS["enterprise"])
        if s.kind == "public_body":
            titles = COMMENDATIONS["public"]
        for year in range(p.start.year, p.end.year + 1):
            day = p.random_day(date(year, 1, 5), date(year, 2, 10))
            if day < p.start or day > p.end or self.conduct_before(day):
                continue
            if not p.chance(0.5):
                continue
            title = p.rng.choice(titles)
            authority = PROVINCE if s.role.provincial or p.chance(0.3) else s.bureau
            p.add(
                s,
                "CommendationGranted",
                day,
                authority,
                "表",
                {
                    "title": f"{year - 1}年度{title}",
                    "description": f"{s.name}被评为{year - 1}年度{title}",
                },
            )

    # Further administrative information ------------------------------------------------------
    def plan_administrative_information(self) -> None:
        """行政强制 around penalties; 行政确认, 行政裁决, 行政奖励 and 行政监督检查 on their
        own."""
        s, p = self.s, self.p
        for penalty in [c for c in self.conduct if c.type == "PenaltyDecided"]:
            if s.role.violations == "truck" and penalty.severity == "serious" and p.chance(0.5):
                # the vehicle is held on the spot, days before the penalty is decided
                self.administrative(
                    "AdministrativeCoercionApplied",
                    p.later(penalty.decision, -12, -2),
                    s.enforcer,
                    "强",
                    ADMINISTRATIVE["coercion"]["measure"],
                )
            elif penalty.details["fine_amount"] and s.profile == "troubled" and p.chance(0.1):
                self.administrative(
                    "AdministrativeCoercionApplied",
                    p.later(penalty.decision, 45, 120),
                    s.enforcer,
                    "强",
                    ADMINISTRATIVE["coercion"]["execution"],
                )
        for year in range(p.start.year, p.end.year + 1):
            day = p.random_day(date(year, 3, 1), date(year, 11, 30))
            if day < p.start or day > p.end:
                continue
            if s.kind in ADMINISTRATIVE["inspection"]["subject_kinds"] and p.chance(0.2):
                inspection = ADMINISTRATIVE["inspection"]
                self.administrative(
                    "AdministrativeInspectionConducted",
                    day,
                    s.bureau,
                    "检",
                    {
                        "inspection_type": inspection["inspection_type"],
                        "matter": inspection["matter"],
                        "result": p.rng.choice(inspection["results"]),
                    },
                )
            if s.kind in ADMINISTRATIVE["confirmation"]["subject_kinds"] and p.chance(0.3):
                self.administrative(
                    "AdministrativeConfirmationMade", day, s.bureau, "确", _own("confirmation")
                )
        if s.kind in ADMINISTRATIVE["adjudication"]["subject_kinds"] and p.chance(0.04):
            self.administrative(
                "AdministrativeAdjudicationMade",
                p.random_day(s.active_from),
                s.bureau,
                "裁",
                _own("adjudication"),
            )
        reward = ADMINISTRATIVE["reward"]
        if s.kind in reward["subject_kinds"] and s.profile == "exemplary" and p.chance(0.4):
            day = p.random_day(max(s.active_from, p.start))
            if not self.conduct_before(day):
                self.administrative(
                    "AdministrativeRewardGranted",
                    day,
                    s.bureau,
                    "奖",
                    {
                        "reward_name": p.rng.choice(reward["reward_names"]),
                        "content": reward["content"],
                        "legal_basis": reward["legal_basis"],
                    },
                )

    def administrative(
        self, record_type: str, day: date, authority: Authority, word: str, details: dict[str, Any]
    ) -> None:
        self.p.add(self.s, record_type, day, authority, word, dict(details))


def _own(kind: str) -> dict[str, Any]:
    """A kind's record fields from the catalogue, without whom it is for."""
    return {key: value for key, value in ADMINISTRATIVE[kind].items() if key != "subject_kinds"}


def _band(score: Decimal) -> str:
    if score >= 95:
        return "AA"
    if score >= 85:
        return "A"
    if score >= 75:
        return "B"
    if score >= 60:
        return "C"
    return "D"


def _plan_corrections(planner: _Planner, plans: list[_SubjectPlan]) -> None:
    """A few penalties are corrected (fine or severity) or annulled on administrative review."""
    rng = planner.rng
    for plan in plans:
        for item in [c for c in plan.conduct if c.type == "PenaltyDecided"]:
            roll = rng.random()
            if roll < 0.04:
                changes: dict[str, Any]
                fine = item.details["fine_amount"]
                if fine is not None and rng.random() < 0.6:
                    new_fine = (fine * 2 if rng.random() < 0.5 else fine / 2).normalize()
                    changes = {"fine_amount": new_fine}
                    reason = f"决定书罚款金额录入有误，由{fine}万元更正为{new_fine}万元"
                elif (
                    not item.protected
                    and item.severity in ("minor", "general")
                    and item.details["procedure"] == "general"
                ):
                    old = item.severity
                    new = "minor" if old == "general" else "general"
                    changes = {"severity": new}
                    reason = f"失信程度认定录入有误，由{_SEVERITY_CN[old]}更正为{_SEVERITY_CN[new]}"
                else:
                    continue
                planner.add(
                    plan.s,
                    "RecordCorrected",
                    planner.later(item.decision, 15, 90),
                    item.authority,
                    "更正",
                    {"changes": changes, "reason": reason},
                    {"target_record_id": item},
                )
            elif roll < 0.075 and not item.protected and item.severity == "general":
                planner.add(
                    plan.s,
                    "RecordRevoked",
                    planner.later(item.decision, 60, 120),
                    item.authority,
                    "复撤",
                    {
                        "reason": "经行政复议，原行政处罚决定认定事实不清、证据不足，予以撤销",
                    },
                    {"target_record_id": item},
                )


def _plan_overload_listings(
    planner: _Planner, plans: list[_SubjectPlan], rng: random.Random
) -> None:
    """Over the demo's last year, now and then a truck found overloading seriously is put on the
    black list on that finding (its basis_record_id), which makes it an entry of the
    严重违法超限超载运输失信当事人名单 the credit office reports each month. Every other month, so
    the list has entries in several months; a truck already on the black list is not listed
    again."""
    trucks = [
        plan for plan in plans if plan.s.kind == "vehicle" and plan.s.role.violations == "truck"
    ]
    end = planner.end
    for months_back in range(CASE_MONTHS - 1, 0, -2):
        month_start = add_months(end.replace(day=1), -months_back)
        found = planner.workday_from(month_start + timedelta(days=rng.randint(0, 12)))
        listed = found + timedelta(days=rng.randint(FOLLOW_UP_GAP, FOLLOW_UP_GAP + 10))
        free = [
            plan
            for plan in trucks
            if plan.s.active_from <= found
            and (free_from := plan.free_from("black")) is not None
            and free_from <= found
        ]
        if not free or listed > end:
            continue
        plan = rng.choice(free)
        conduct = plan.conduct_record(CONDUCTS["overload"], found, "serious")
        if conduct is None:
            continue
        entry = planner.add(
            plan.s,
            "ListEntered",
            listed,
            PROVINCE if plan.s.role.provincial else plan.s.bureau,
            "黑",
            {
                "list_type": "black",
                "basis": "因车辆严重违法超限超载运输，经认定列入严重违法超限超载运输失信当事人名单",
                "planned_end": add_months(planner.workday_from(listed), 36),
            },
            {"basis_record_id": conduct},
        )
        if entry is not None:
            conduct.protected = True
            plan.lists["black"].append(_ListState(entry))


def _case_targets(planner: _Planner) -> list[CaseTarget]:
    """The penalties and dishonest-conduct findings a demo case may concern: those no other
    record rests on or acts on, and no list or licence decision followed from (a repair or
    revocation of those would change records the demo writes later)."""
    followed = {target.seq for item in planner.items for target in item.links.values()}
    targets = []
    for item in planner.items:
        if item.type not in ("PenaltyDecided", "DishonestConductRecorded"):
            continue
        if item.protected or item.seq in followed:
            continue
        s = item.subject
        assert s.subject_id is not None
        applicant = s.owner.name if s.kind == "vehicle" and s.owner else s.name
        targets.append(
            CaseTarget(
                subject_id=s.subject_id,
                subject_code=s.code,
                applicant=applicant,
                record_id=item.record_id(),
                record_type=item.type,
                authority_code=item.authority.code,
                decision=item.decision,
                recorded=item.recorded,
                details=item.details,
            )
        )
    return targets


# --- Writing ----------------------------------------------------------------------------------


def _assign_source_refs(items: list[_Planned], rng: random.Random) -> None:
    """Decision numbers in date order per authority, word and year, with gaps for the
    decisions the demo leaves out: 郑交执罚〔2024〕0123号."""
    counters: Counter[tuple[str, str, int]] = Counter()
    words: dict[tuple[str, str], str] = {}
    for item in sorted(items, key=lambda i: (i.decision, i.seq)):
        # One word names one record type, so decision numbers are unique per authority and type.
        assert words.setdefault((item.authority.abbr, item.word), item.type) == item.type
        key = (item.authority.abbr, item.word, item.decision.year)
        counters[key] += rng.randint(1, 12)
        item.source_ref = (
            f"{item.authority.abbr}{item.word}〔{item.decision.year}〕{counters[key]:04d}号"
        )


# How often the demo's authorities fill the 双公示 standard's optional fields of a licence or
# penalty: a share of records go without any of them, and half of those penalties state their
# fine in 处罚内容 only (CF_NR_FK left empty, as clerks do); the others have each field at these
# odds. So the completeness figure (合格率) has records below its threshold to show: an
# organisation's penalty with only the required fields fills 12 of 21. Drawn from a generator
# of their own, so that the rest of the demo stays what it was.
_BARE_SHARE = 0.25
_FINE_IN_CONTENT_ONLY = 0.5
_FILLED_SHARE = {
    "legal_representative": 0.85,
    "data_source_name": 0.8,
    "effective_until": 0.6,
    "remarks": 0.15,
}
_REMARKS = {
    "PenaltyDecided": ("当事人已履行处罚决定", "当事人已缴纳罚款", "已送达"),
    "LicenceGranted": ("新办", "延续", "变更"),
}


def _fill_standard_fields(items: list[_Planned], rng: random.Random) -> None:
    """The standard's optional fields of the licences and penalties, for most of them: an
    organisation's legal representative (one per organisation), the deciding authority as the
    data source, a penalty's 处罚有效期 (a year), and now and then a remark. The others go
    without, some penalties without their fine amount too (see _BARE_SHARE)."""
    representatives: dict[int, str] = {}
    corrected = {
        target.seq
        for item in items
        if item.type == "RecordCorrected"
        for target in item.links.values()
    }
    for item in items:
        if item.type not in _REMARKS:
            continue
        if rng.random() < _BARE_SHARE:
            if (
                item.type == "PenaltyDecided"
                and item.seq not in corrected
                and rng.random() < _FINE_IN_CONTENT_ONLY
            ):
                item.details["fine_amount"] = None
            continue
        fields: dict[str, Any] = {}
        organisation = item.subject.kind in ORGANISATIONS
        if organisation and rng.random() < _FILLED_SHARE["legal_representative"]:
            if item.subject.index not in representatives:
                name = rng.choice(SURNAMES) + rng.choice(MALE_NAMES + FEMALE_NAMES)
                representatives[item.subject.index] = name
            fields["legal_representative"] = representatives[item.subject.index]
        if rng.random() < _FILLED_SHARE["data_source_name"]:
            fields["data_source_name"] = item.authority.name
            fields["data_source_code"] = item.authority.code
        if item.type == "PenaltyDecided" and rng.random() < _FILLED_SHARE["effective_until"]:
            fields["effective_until"] = add_months(item.decision, 12)
        if rng.random() < _FILLED_SHARE["remarks"]:
            fields["remarks"] = rng.choice(_REMARKS[item.type])
        item.details.update(fields)


def _command(item: _Planned) -> RecordCommand:
    details = {**item.details, **{name: target.record_id() for name, target in item.links.items()}}
    return record_command_adapter.validate_python(
        {
            "type": item.type,
            "decision_date": item.decision,
            "authority_name": item.authority.name,
            "authority_code": item.authority.code,
            "source_ref": item.source_ref,
            # Filed in the subject's sector, as its recorder would: a special credit report
            # then states something per sector on the demo data too.
            "sector": item.subject.role.sectors[0] if item.subject.role.sectors else None,
            **details,
        }
    )


def seed_demo(
    files: CreditFiles,
    clock: FixedClock,
    *,
    subjects: int = 300,
    seed: int = 7,
    today: datetime | None = None,
    cases: CaseDesk | None = None,
) -> DemoSummary:
    """Fill a store with three years of credit files ending `today` (default: the clock's now),
    and, given the case desk, repair and objection cases over its last months.

    Deterministic for a given seed and day: a second run repeats the same writes, which the
    aggregate recognises, so it adds nothing (a case already filed on its record is not filed
    again). The clock is moved through the three years (each record is recorded 0-10 days after
    its decision, each case step at the end of its day) and restored to its moment when done."""
    if files.clock is not clock:
        raise ValueError("seed_demo needs the FixedClock that `files` reads its time from")
    if cases is not None and cases.files is not files:
        raise ValueError("seed_demo needs the case desk over the same `files`")
    original = clock.moment
    zone = clock.zone
    now = today or original
    if now.tzinfo is None:
        now = now.replace(tzinfo=zone)
    end = now.astimezone(zone).date()
    start = _years_before(end, YEARS)
    rng = random.Random(seed)

    factory = _SubjectFactory(rng, start, end)
    for kind, count in _kind_counts(subjects).items():
        factory.make(kind, count)
    planner = _Planner(rng, start, end)
    plans = []
    for subject in factory.subjects:
        plan = _SubjectPlan(planner, subject)
        plan.plan()
        plans.append(plan)
    _plan_corrections(planner, plans)
    _plan_overload_listings(planner, plans, random.Random(f"{seed}:overload"))

    for subject in factory.subjects:
        subject.command = RegisterSubject(
            kind=subject.role.kind,
            code=subject.code,
            name=subject.name,
            region_code=subject.region,
            sectors=list(subject.role.sectors),
        )
        subject.subject_id = files.subject_id_for_code(subject.code)
    _assign_source_refs(planner.items, rng)
    _fill_standard_fields(planner.items, random.Random(f"{seed}:standard-fields"))
    docket = (
        plan_cases(_case_targets(planner), files.policy, random.Random(f"{seed}:cases"), end)
        if cases is not None
        else CaseDocket([])
    )

    registrations: dict[date, list[_Subject]] = defaultdict(list)
    for subject in factory.subjects:
        registrations[subject.active_from].append(subject)
    recordings: dict[date, list[_Planned]] = defaultdict(list)
    for item in planner.items:
        recordings[item.recorded].append(item)

    def moment(day: date, at: time) -> datetime:
        return min(datetime.combine(day, at, tzinfo=zone), now).astimezone(UTC)

    try:
        for day in sorted(set(registrations) | set(recordings) | docket.days):
            clock.moment = moment(day, time(8, 30))
            for subject in registrations.get(day, ()):
                assert subject.command is not None
                files.register(subject.command, recorded_by=RECORDED_BY)
            items = sorted(recordings.get(day, ()), key=lambda i: (i.decision, i.seq))
            if items:
                clock.moment = moment(day, time(9, 0)) + timedelta(minutes=rng.randint(0, 510))
                clock.moment = min(clock.moment, now.astimezone(UTC))
                batch = [
                    BatchItem(line, i.subject.command, _command(i))  # type: ignore[arg-type]
                    for line, i in enumerate(items, start=1)
                ]
                outcomes = files.append_batch(batch, recorded_by=RECORDED_BY)
                rejected = [o for o in outcomes if o.status == "rejected"]
                if rejected:
                    item = items[rejected[0].line - 1]
                    raise RuntimeError(
                        f"demo record {item.type} {item.source_ref} for subject "
                        f"{item.subject.index} was rejected: {rejected[0].reason}"
                    )
            if cases is not None:
                # After the day's records (recorded by 17:30): a case step never comes before a
                # record of the same day in its subject's stream.
                docket.take(day, cases, clock, moment(day, time(17, 35)))
    finally:
        clock.moment = original

    summary = _summary(factory.subjects, plans, planner.items)
    summary.cases_by_kind = docket.counts()
    return summary


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _summary(
    subjects: list[_Subject], plans: list[_SubjectPlan], items: list[_Planned]
) -> DemoSummary:
    kinds = Counter(s.role.kind for s in subjects)
    types = Counter(item.type for item in items)
    per_subject = Counter(item.subject.index for item in items)
    examples: dict[str, str] = {}
    for kind in SUBJECT_KINDS:
        candidates = [s for s in subjects if s.role.kind == kind]
        if not candidates:
            continue
        # The fullest file of each kind makes the best example.
        best = max(candidates, key=lambda s: (per_subject[s.index], -s.index))
        examples[kind] = str(best.subject_id) if kind == "individual" else best.code
    return DemoSummary(
        subjects_by_kind={kind: kinds[kind] for kind in SUBJECT_KINDS},
        records_by_type={name: types[name] for name in RECORD_EVENT_TYPES},
        example_codes=examples,
    )


def demo_recording_grants() -> tuple[list[str], list[str]]:
    """The authority codes and sectors of the demo's recording agencies (for demo clients)."""
    sectors = [
        "road_transport",
        "taxi",
        "vehicle_repair",
        "driver_training",
        "highway_construction",
        "waterway_transport",
        "water_construction",
        "work_safety",
        "overload_control",
    ]
    return sorted({authority.code for authority in AUTHORITIES.values()}), sectors
