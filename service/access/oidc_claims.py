"""What an OpenID Connect provider's ID token says about a person, as a console account: which
claim carries which field (CREDIT_OIDC_CLAIM_*), the provider's role or group names as console
roles (CREDIT_OIDC_ROLE_MAP), and, where a claim is missing or wrong, a refusal that names it.

The fields are checked as an administrator's form is (the sign-in name's pattern, the same
`checked_grants`), so an account vouched for by the provider is no looser than a built-in one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain import codes
from service.access.accounts import ACCOUNT_NAME
from service.access.clients import ClientError, checked_grants
from service.settings import Settings

MAX_DISPLAY_NAME = 100
MAX_SHOWN_VALUES = 5  # of a claim's values on the page: a provider may list dozens of groups


@dataclass(frozen=True)
class ClaimNames:
    """Which claim of the ID token carries which field of the account."""

    account: str
    name: str
    agency_code: str
    agency_name: str
    roles: str
    authority_codes: str
    sectors: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ClaimNames:
        return cls(
            account=settings.oidc_claim_account,
            name=settings.oidc_claim_name,
            agency_code=settings.oidc_claim_agency_code,
            agency_name=settings.oidc_claim_agency_name,
            roles=settings.oidc_claim_roles,
            authority_codes=settings.oidc_claim_authority_codes,
            sectors=settings.oidc_claim_sectors,
        )


class ClaimRefused(ValueError):
    """The claims do not make an account: `in_chinese` names the claim and what is wrong with
    it, for the sign-in page; the English message is for the log."""

    def __init__(self, message: str, in_chinese: str):
        super().__init__(message)
        self.in_chinese = in_chinese


def _missing(label: str, claim: str) -> ClaimRefused:
    return ClaimRefused(
        f"the ID token has no {claim!r} claim",
        f"统一身份认证未提供{label}（{claim}），无法登录。请联系统一身份认证的管理员补全。",
    )


def _wrong(label: str, claim: str, why: str) -> ClaimRefused:
    return ClaimRefused(
        f"the ID token's {claim!r} claim is not usable",
        f"统一身份认证提供的{label}（{claim}）有误：{why}。无法登录，请联系统一身份认证的管理员。",
    )


def _text(claims: Mapping[str, Any], claim: str, label: str) -> str:
    value = claims.get(claim)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _missing(label, claim)
    if not isinstance(value, str):
        raise _wrong(label, claim, "应为文本")
    return value.strip()


def _values(claims: Mapping[str, Any], claim: str, label: str) -> list[str]:
    """A claim of one value (a string) or several (a list of strings); absent: none."""
    value = claims.get(claim)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _wrong(label, claim, "应为文本或文本列表")
    return [item.strip() for item in value if item.strip()]


def _shown(values: list[str]) -> str:
    shown = "、".join(values[:MAX_SHOWN_VALUES])
    return shown + ("等" if len(values) > MAX_SHOWN_VALUES else "")


def console_role(claims: Mapping[str, Any], claim: str, role_map: Mapping[str, str]) -> str:
    """Exactly one console role from the provider's values: none, or two, is refused (a value
    the map does not name gives no role; no role is ever guessed)."""
    values = _values(claims, claim, "角色")
    if not values:
        raise _missing("角色", claim)
    roles = sorted({role_map[value] for value in values if value in role_map})
    if not roles:
        raise _wrong("角色", claim, f"{_shown(values)} 均不是本系统的角色")
    if len(roles) > 1:
        raise _wrong("角色", claim, f"{_shown(values)} 对应本系统的多个角色（{'、'.join(roles)}）")
    return roles[0]


def _uscc(value: str, label: str, claim: str) -> str:
    try:
        return codes.normalise_uscc(value)
    except codes.InvalidCode:
        raise _wrong(label, claim, f"{value} 不是有效的统一社会信用代码") from None


def account_fields(
    claims: Mapping[str, Any], names: ClaimNames, role_map: Mapping[str, str]
) -> dict[str, Any]:
    """The account's fields, as `StaffAccounts.validated` gives them for a form, or
    ClaimRefused naming the first claim that is missing or wrong."""
    name = _text(claims, names.account, "登录名").lower()
    if not ACCOUNT_NAME.match(name):
        raise _wrong(
            "登录名",
            names.account,
            f"{name[:64]} 不符合本系统的登录名规则（3-56 个字符，可用小写字母、数字和 . _ -，"
            "以字母或数字开头）",
        )
    display_name = _text(claims, names.name, "姓名")
    if len(display_name) > MAX_DISPLAY_NAME:
        raise _wrong("姓名", names.name, f"超过 {MAX_DISPLAY_NAME} 个字符")
    role = console_role(claims, names.roles, role_map)
    agency_name = _text(claims, names.agency_name, "单位名称")
    agency_code = _uscc(
        _text(claims, names.agency_code, "单位统一社会信用代码"),
        "单位统一社会信用代码",
        names.agency_code,
    )
    authority_codes = [
        _uscc(code, "执法机构代码", names.authority_codes)
        for code in _values(claims, names.authority_codes, "执法机构代码")
    ]
    sectors = _values(claims, names.sectors, "行业")
    if role == "recorder" and not authority_codes:
        raise _missing("执法机构代码", names.authority_codes)
    if role == "recorder" and not sectors:
        raise _missing("行业", names.sectors)
    try:
        grants = checked_grants(role, agency_name, agency_code, authority_codes, sectors)
    except ClientError as error:  # the agency name's length: the rest is checked above
        raise _wrong("单位名称", names.agency_name, error.in_chinese) from None
    return {"name": name, "display_name": display_name, **grants}
