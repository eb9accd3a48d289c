"""The credit policy: the rules as data (`model`) and the reader that builds them from the policy
file's data, refusing any mistake with its place (`reader`)."""

from domain.policy.model import (
    MEASURES,
    Adjustments,
    BlackListRule,
    Deadline,
    Deadlines,
    GradeBand,
    ListRules,
    PolicyBook,
    PolicyError,
    PolicyVersion,
    PublicationPeriod,
    PublicationRules,
    RedListRule,
    Scheme,
    SupervisionTier,
    TierCriteria,
    WarningRules,
    WatchListRule,
)
from domain.policy.reader import parse_policy

__all__ = [
    "MEASURES",
    "Adjustments",
    "BlackListRule",
    "Deadline",
    "Deadlines",
    "GradeBand",
    "ListRules",
    "PolicyBook",
    "PolicyError",
    "PolicyVersion",
    "PublicationPeriod",
    "PublicationRules",
    "RedListRule",
    "Scheme",
    "SupervisionTier",
    "TierCriteria",
    "WarningRules",
    "WatchListRule",
    "parse_policy",
]
