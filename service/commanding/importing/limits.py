"""What one import may unpack and hold, and the errors that refuse a whole file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; the message says exactly why."""


class ImportTooLarge(ImportFileError):
    """The file, once unpacked, is over one of the import limits (an archive bomb, say)."""


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """What one import may unpack and hold, so that no file within the upload limit can grow the
    process by more than about 100 MB (docs/security.md). The defaults are the settings'
    defaults (CREDIT_IMPORT_*)."""

    # XLSX (a zip archive): checked on the central directory, then while inflating each member.
    max_inflated_bytes: int = 256 * 1024 * 1024  # all members together, declared and actual
    max_compression_ratio: int = 200  # per member, once it inflates past RATIO_FLOOR bytes
    max_archive_members: int = 1000
    # openpyxl holds the whole shared-strings table, and about 90 bytes per row read
    max_shared_strings: int = 200_000
    max_shared_strings_bytes: int = 16 * 1024 * 1024
    max_rows: int = 250_000  # the highest row number of a worksheet
    max_columns: int = 1000  # the highest column of a worksheet or the width of a CSV header
    # Any other part (styles, theme, workbook, a picture) is read whole and turned into objects.
    max_part_bytes: int = 4 * 1024 * 1024
    max_part_elements: int = 50_000
    # Both formats: a longer cell rejects its row; a longer CSV line is skipped and rejected.
    max_cell_chars: int = 32_767  # Excel's own limit for one cell
    max_line_chars: int = 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Any) -> ImportLimits:
        return cls(
            max_inflated_bytes=settings.import_max_inflated_bytes,
            max_compression_ratio=settings.import_max_compression_ratio,
            max_archive_members=settings.import_max_archive_members,
            max_shared_strings=settings.import_max_shared_strings,
            max_shared_strings_bytes=settings.import_max_shared_strings_bytes,
            max_rows=settings.import_max_rows,
            max_columns=settings.import_max_columns,
            max_part_bytes=settings.import_max_part_bytes,
            max_part_elements=settings.import_max_part_elements,
            max_cell_chars=settings.import_max_cell_chars,
            max_line_chars=settings.import_max_line_chars,
        )


# A member smaller than this when inflated is never refused for its ratio (a small, regular XML
# part such as styles.xml legitimately compresses very well).
RATIO_FLOOR = 1024 * 1024
