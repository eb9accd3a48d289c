"""What a recording client may write: only for its own authority codes and sectors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from domain.errors import DomainError


class NotPermitted(DomainError):
    """The client is authenticated but may not do this."""

    code = "forbidden"


@dataclass(frozen=True)
class RecordingPermit:
    authority_codes: frozenset[str]
    sectors: frozenset[str]

    def check_authority(self, authority_code: str) -> None:
        if authority_code not in self.authority_codes:
            raise NotPermitted(f"authority {authority_code} is not one this client may record for")

    def check_sectors(self, sectors: Iterable[str]) -> None:
        """A subject is in scope when it shares at least one sector with the client."""
        if not self.sectors.intersection(sectors):
            raise NotPermitted("the subject is in no sector this client may record for")
