"""What a recording client may write: only for its own authority codes and sectors, and the
sector a record is filed in."""

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

    def sector_for(self, given: str | None, subject_sectors: Iterable[str]) -> str | None:
        """The sector a record of this client is filed in (for the per-sector statements of a
        专项信用报告). One it names must be one it may record for (NotPermitted otherwise;
        the subject's own sectors are the domain's check). Naming none, the record is filed
        in the one sector the client and the subject share, if they share exactly one; in
        none otherwise: the service does not guess between two."""
        if given is not None:
            if given not in self.sectors:
                raise NotPermitted(f"sector {given} is not one this client may record for")
            return given
        shared = self.sectors.intersection(subject_sectors)
        return next(iter(shared)) if len(shared) == 1 else None
