"""An import's rows regrouped by subject before any is decided, so that a subject's rows are
decided close together and its stream is read at most once.

An import keeps the subjects it wrote for the next batches (StreamCache), within a bound on
their records that keeps the process under 300 MB. A national file lists its rows by decision,
so a subject's rows are spread through the whole file: at a million rows the cache holds some
4% of the subjects, and nearly every batch read its subjects back from the store and rebuilt
them from their events, a third of the import's CPU (docs/benchmarks.md "Rows grouped by
subject"). Here the file is read through first and each row set aside in one of `groups`
spools by its subject's hash; the rows are then decided group after group, each group's
subjects few enough to stay in the cache until its last row.

A subject's rows keep the file's order (its stream and its checks are an import by file
order's), and all of them fall in one group. Subjects of different groups are written in
another order than the file's, as an import by several processes writes them. The spools are
held in memory up to SPOOLED_BYTES each and go to temporary files past it: about 1.2 times a
UTF-8 CSV's size on disk, in the temporary directory (TMPDIR), each group's freed once it is
read and the rest when the import ends."""

from __future__ import annotations

import marshal
import struct
from collections.abc import Iterator
from tempfile import SpooledTemporaryFile
from typing import IO

# Enough groups that a group of a national year's file (a million rows, or each process's share
# of it) fits the subjects an import keeps, and that each group's spool flushes in large writes.
ROW_GROUPS = 64
# A spool's memory before it goes to a temporary file: 64 of them hold at most 16 MB.
SPOOLED_BYTES = 256 * 1024

_SIZE = struct.Struct("<I")


class SubjectGroups:
    """Rows set aside by group, then read back group after group, each in the order added.

    A row is stored as its line and its cells' values when its columns are the first row's
    (the header's, for every row a file reads whole), otherwise as its line and its dict."""

    def __init__(self, groups: int | None = None):
        self.groups = groups or ROW_GROUPS
        self._spools: list[IO[bytes]] = [
            SpooledTemporaryFile(max_size=SPOOLED_BYTES)  # noqa: SIM115 - closed by close()
            for _ in range(self.groups)
        ]
        self._columns: tuple[str, ...] | None = None
        self.rows = 0

    def add(self, group: int, line: int, row: dict[str, str]) -> None:
        columns = tuple(row)
        if self._columns is None:
            self._columns = columns
        cells: tuple[str, ...] | dict[str, str] = (
            tuple(row.values()) if columns == self._columns else row
        )
        encoded = marshal.dumps((line, cells))
        spool = self._spools[group]
        spool.write(_SIZE.pack(len(encoded)))
        spool.write(encoded)
        self.rows += 1

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        columns = self._columns or ()
        for spool in self._spools:
            spool.seek(0)
            while header := spool.read(_SIZE.size):
                (size,) = _SIZE.unpack(header)
                line, cells = marshal.loads(spool.read(size))
                if not isinstance(cells, dict):
                    cells = dict(zip(columns, cells, strict=True))
                yield line, cells
            spool.truncate(0)  # a group read is not needed again: its disk space goes now

    def close(self) -> None:
        for spool in self._spools:
            spool.close()
