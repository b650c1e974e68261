"""Readers for csv, parquet and xlsx: check the file's structure and stream it in chunks.

Every chunk is a DataFrame with raw-table column names (values as found in the file, strings
Arrow-backed) plus ``_source_row`` (1-based data row) and ``_pos`` (csv physical line / Excel row).
File-level problems raise IngestError naming the file, where, the column and what was expected.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import logging
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from trendcast.exceptions import IngestError
from trendcast.ingestion.cells import STRING, show_value
from trendcast.ingestion.columns import HeaderMap, resolve_header, signature_kind

__all__ = ["SUPPORTED_SUFFIXES", "SourceFile", "open_source"]

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".xlsx")
_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
_STRINGS = {pa.string(): STRING, pa.large_string(): STRING}
# Longest csv field parsed (characters). Longer values than a column allows are then reported per row and
# column by validation; beyond this, a field is an unclosed quote or garbage and rejects the file.
CSV_FIELD_LIMIT = 1 << 20
# A csv chunk also ends after this many bytes, and no physical line is read past it (8 fields of
# CSV_FIELD_LIMIT characters fit), so long fields cannot make memory huge.
_CHUNK_BYTES = _LINE_BYTES = 64 << 20


def _csv_reader(lines: Iterator[str], strict: bool = True) -> Any:
    """A csv reader that accepts fields up to CSV_FIELD_LIMIT (the csv module's default is 131,072)."""
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)  # process-wide; only ever raised
    return csv.reader(lines, strict=strict)


class SourceFile:
    """An opened, structurally checked input file."""

    format: str = ""

    def __init__(self, path: Path, header: HeaderMap) -> None:
        self.path = path
        self.name = path.name
        self.header = header

    @property
    def kind(self) -> str:
        return self.header.kind

    def where(self, row: int, pos: Any) -> str:
        return f"row {row}"

    def chunks(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        raise NotImplementedError

    def _frame(self, columns: dict[str, Any], first_row: int, positions: Any = None) -> pd.DataFrame:
        n = len(next(iter(columns.values())))
        frame = pd.DataFrame(columns)
        frame["_source_row"] = np.arange(first_row, first_row + n, dtype=np.int64)
        frame["_pos"] = pd.array(positions if positions is not None else [None] * n, dtype="Int64")
        return frame


def open_source(path: Path) -> SourceFile:
    """Open a file by its suffix and check its header; raise IngestError for file-level problems."""
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise IngestError(
            f"{path.name}: the file is empty (0 bytes): no header row and no columns; expected a header row "
            "naming the columns, then data rows"
        )
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return CsvSource.open(path)
    if suffix == ".parquet":
        return ParquetSource.open(path)
    if suffix == ".xlsx":
        return XlsxSource.open(path)
    raise IngestError(f"{path.name}: unsupported file type {suffix!r}; expected one of {', '.join(SUPPORTED_SUFFIXES)}")


class _Lines:
    """A binary file's lines decoded as UTF-8, tracking line number and byte offset.

    A line that is not UTF-8 is passed on with its bad bytes escaped (surrogateescape) and remembered,
    so the row containing it can be reported with its column.
    """

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.line_no = 0
        self.offset = 0
        self.bad: tuple[int, int, bytes] | None = None

    def __iter__(self) -> Iterator[str]:
        for raw in iter(lambda: self.handle.readline(_LINE_BYTES), b""):
            if len(raw) >= _LINE_BYTES and not raw.endswith(b"\n"):
                # Never read a newline-free gigabyte into memory: the row is reported like a too-long field.
                raise csv.Error(f"field larger than field limit ({CSV_FIELD_LIMIT}) in a line over {_LINE_BYTES} bytes")
            start = self.offset
            self.offset += len(raw)
            self.line_no += 1
            if self.line_no == 1 and raw.startswith(codecs.BOM_UTF8):
                raw, start = raw[3:], start + 3
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                if self.bad is None:
                    self.bad = (self.line_no, start + exc.start, raw[exc.start : exc.start + 4])
                yield raw.decode("utf-8", "surrogateescape")


class CsvSource(SourceFile):
    """Comma-separated UTF-8 text, parsed by the csv module (strict quoting) to know physical lines."""

    format = "csv"

    def __init__(self, path: Path, header: HeaderMap, names: list[str]) -> None:
        super().__init__(path, header)
        self.names = names

    def where(self, row: int, pos: Any) -> str:
        return f"row {row} (line {pos})" if pos is not None and pos is not pd.NA else f"row {row}"

    @classmethod
    def open(cls, path: Path) -> CsvSource:
        with path.open("rb") as handle:
            lines = _Lines(handle)
            reader = _csv_reader(iter(lines))
            try:
                names = next(reader, None)
            except csv.Error as exc:
                raise IngestError(f"{path.name}: header row (line 1), column 1: unreadable csv header ({exc})") from exc
            if lines.bad is not None:
                line, offset, data = lines.bad
                raise IngestError(
                    f"{path.name}: header row (line {line}), byte offset {offset}: "
                    f"bytes {data!r} are not valid "
                    "UTF-8; expected a UTF-8 encoded csv"
                )
        if not names or not any(n.strip() for n in names):
            raise IngestError(
                f"{path.name}: header row (line 1): the file has no header row (blank); expected column names"
            )
        if len(names) == 1:
            for delimiter, word in _DELIMITERS.items():
                if delimiter in names[0]:
                    raise IngestError(
                        f"{path.name}: header row (line 1): found a single column {show_value(names[0], 80)} "
                        f"containing {delimiter!r}: the file looks {word}-separated (wrong delimiter); "
                        "expected comma-separated columns"
                    )
        header = resolve_header([n.strip() for n in names], path.name, where="header row (line 1)")
        return cls(path, header, names)

    def chunks(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        size = self.path.stat().st_size
        n = len(self.names)
        wanted = [(column, pos) for column, (pos, _) in self.header.columns.items()]
        rows: list[list[str]] = []
        positions: list[int] = []
        row_no = 0
        with self.path.open("rb") as handle:
            lines = _Lines(handle)
            reader = _csv_reader(iter(lines))
            next(reader)
            chunk_offset = lines.offset
            while True:
                start_line, start_offset = lines.line_no + 1, lines.offset
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    raise self._broken(exc, row_no + 1, start_line, start_offset) from exc
                if not row or not any(field.strip() for field in row):
                    continue  # blank lines (and Excel's trailing ',,,,' lines) are not data rows
                row_no += 1
                if lines.bad is not None:
                    raise self._not_utf8(row, row_no, lines.bad)
                if len(row) != n:
                    raise self._wrong_width(row, row_no, start_line, lines.offset >= size)
                rows.append(row)
                positions.append(start_line)
                if len(rows) >= chunk_rows or lines.offset - chunk_offset >= _CHUNK_BYTES:
                    yield self._build(rows, positions, row_no - len(rows) + 1, wanted)
                    rows, positions, chunk_offset = [], [], lines.offset
        if rows:
            yield self._build(rows, positions, row_no - len(rows) + 1, wanted)
        if row_no == 0:
            raise IngestError(
                f"{self.name}: header only (line 1): no data rows after the header row (columns: "
                f"{', '.join(self.names)}); expected at least one data row"
            )

    def _build(
        self, rows: list[list[str]], positions: list[int], first: int, wanted: list[tuple[str, int]]
    ) -> pd.DataFrame:
        fields = list(zip(*rows, strict=True))
        columns = {column: pd.Series(pa.array(fields[pos], pa.string()), dtype=STRING) for column, pos in wanted}
        return self._frame(columns, first, positions)

    def _broken(self, exc: csv.Error, row: int, line: int, offset: int) -> IngestError:
        # Re-parse the start of the row leniently (half the field limit, so it cannot hit the limit again)
        # to find the field that never closed or grew too long.
        with self.path.open("rb") as handle:
            handle.seek(offset)
            tail = handle.read(CSV_FIELD_LIMIT // 2).decode("utf-8", "replace")
        fields = next(_csv_reader(iter(tail.splitlines(keepends=True)), strict=False), None) or [""]
        too_long = "field larger than field limit" in str(exc)
        # The longest field is the culprit of a too-long row; an unclosed quote swallows all fields after it.
        index = max(range(len(fields)), key=lambda i: len(fields[i])) if too_long else len(fields) - 1
        column = self.names[index] if index < len(self.names) else f"field {index + 1}"
        near = show_value(fields[index], 40)
        if too_long:
            return IngestError(
                f"{self.name}: row {row} (line {line}), column {column!r}: a field longer than "
                f"{CSV_FIELD_LIMIT:,} characters starting {near}; expected values of normal length "
                "(an unclosed quote makes the rest of the file one field)"
            )
        return IngestError(
            f"{self.name}: row {row} (line {line}), column {column!r}: malformed csv ({exc}): "
            f"an unterminated or stray quote near {near}; "
            "the file looks truncated or badly "
            "quoted; expected every quoted field to be closed"
        )

    def _not_utf8(self, row: list[str], row_no: int, bad: tuple[int, int, bytes]) -> IngestError:
        bad_line, offset, data = bad
        index = next((i for i, f in enumerate(row) if any("\udc80" <= ch <= "\udcff" for ch in f)), 0)
        column = self.names[index] if index < len(self.names) else f"field {index + 1}"
        return IngestError(
            f"{self.name}: row {row_no} (line {bad_line}), column {column!r}: "
            f"bytes {data!r} at byte offset {offset} "
            "are not valid UTF-8; expected a UTF-8 encoded csv (re-save the file as UTF-8)"
        )

    def _wrong_width(self, row: list[str], row_no: int, line: int, at_end: bool) -> IngestError:
        n = len(self.names)
        if len(row) < n:
            column = self.names[len(row)]
            what = (
                f"column {column!r} and {n - len(row) - 1} more are missing"
                if n - len(row) > 1
                else f"column {column!r} is missing"
            )
        else:
            column = f"after {self.names[-1]!r}"
            what = f"{len(row) - n} extra field(s) in column {column}"
        cause = "the file looks truncated (cut mid-row)" if at_end else "a delimiter or quote looks wrong"
        return IngestError(
            f"{self.name}: row {row_no} (line {line}), column {column!r}: "
            f"the row has {len(row)} fields, expected "
            f"{n}; {what}; {cause}"
        )


class ParquetSource(SourceFile):
    """Parquet read row group by row group (``iter_batches``) so memory stays bounded."""

    format = "parquet"

    def __init__(self, path: Path, header: HeaderMap, parquet: pq.ParquetFile) -> None:
        super().__init__(path, header)
        self.parquet = parquet

    @classmethod
    def open(cls, path: Path) -> ParquetSource:
        try:
            parquet = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise IngestError(
                f"{path.name}: row 1, column (all): unreadable parquet file (truncated or not parquet): {exc}"
            ) from exc
        header = resolve_header(parquet.schema_arrow.names, path.name, where="header row (parquet schema)")
        if parquet.metadata.num_rows == 0:
            raise IngestError(f"{path.name}: header only: the parquet file has columns but no data rows (row 0)")
        return cls(path, header, parquet)

    def chunks(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        names = self.parquet.schema_arrow.names
        wanted = {names[pos]: column for column, (pos, _) in self.header.columns.items()}
        first = 1
        batches = self.parquet.iter_batches(batch_size=chunk_rows, columns=list(wanted), use_threads=True)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (pa.ArrowException, OSError) as exc:
                raise IngestError(
                    f"{self.name}: row {first} onwards, column (unknown): "
                    "unreadable parquet data (truncated or "
                    f"corrupt): {exc}"
                ) from exc
            frame = batch.to_pandas(types_mapper=_STRINGS.get).rename(columns=wanted)
            yield self._frame({c: frame[c] for c in wanted.values()}, first)
            first += batch.num_rows


@dataclass(frozen=True)
class _Sheet:
    """One worksheet that holds data: its title, header mapping and header width."""

    title: str
    header: HeaderMap
    width: int


class XlsxSource(SourceFile):
    """Every worksheet whose header row has the file kind's columns, streamed in read-only mode.

    Sheets load in workbook order as one batch; ``_source_row`` counts data rows across them. A sheet
    without a recognisable header (notes, pivots) is skipped with a logged note; a sheet naming the
    kind's telling column (e.g. ``Invoice``) but missing others, or holding another kind, rejects the file.
    """

    format = "xlsx"

    def __init__(self, path: Path, sheets: list[_Sheet]) -> None:
        ignored = tuple(dict.fromkeys(n for s in sheets for n in s.header.ignored))
        super().__init__(path, replace(sheets[0].header, ignored=ignored))
        self.sheets = sheets
        self._starts: list[int] = []  # first data row of each sheet read so far

    def where(self, row: int, pos: Any) -> str:
        index = max(bisect.bisect_right(self._starts, row) - 1, 0)
        return f"row {row} (sheet {self.sheets[index].title!r}, Excel row {pos})"

    @staticmethod
    def _workbook(path: Path) -> Any:
        import openpyxl  # only xlsx needs it
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            return openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
            raise IngestError(f"{path.name}: row 1, column (all): unreadable xlsx workbook: {exc}") from exc

    @classmethod
    def open(cls, path: Path) -> XlsxSource:
        book = cls._workbook(path)
        problems: list[str] = []
        sheets: list[_Sheet] = []
        try:
            for sheet in book.worksheets:
                first = next(sheet.iter_rows(values_only=True), None)
                names = list(first or ())
                while names and (names[-1] is None or str(names[-1]).strip() == ""):
                    names.pop()
                if not names:
                    problems.append(f"sheet {sheet.title!r} is empty")
                    continue
                shown = [str(n).strip() if n is not None else "" for n in names]
                try:
                    header = resolve_header(shown, path.name, where=f"sheet {sheet.title!r} header row (Excel row 1)")
                except IngestError as exc:
                    if signature_kind(shown) is not None:
                        raise  # a data sheet with a broken header: never skip its rows silently
                    problems.append(str(exc).removeprefix(f"{path.name}: "))
                    continue
                sheets.append(_Sheet(sheet.title, header, len(names)))
        finally:
            book.close()
        if not sheets:
            raise IngestError(f"{path.name}: no sheet has the expected columns: " + " | ".join(problems))
        kinds = {s.header.kind for s in sheets}
        if len(kinds) > 1:
            found = ", ".join(f"sheet {s.title!r} holds {s.header.kind}" for s in sheets)
            raise IngestError(
                f"{path.name}: sheets of different kinds ({found}); expected one kind of data per workbook "
                "(save each kind as its own file)"
            )
        for problem in problems:
            log.warning("%s: skipping a sheet without a %s header: %s", path.name, sheets[0].header.kind, problem)
        return cls(path, sheets)

    def chunks(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        book = self._workbook(self.path)
        self._starts = []
        row_no = 0
        try:
            for sheet in self.sheets:
                self._starts.append(row_no + 1)
                wanted = [(column, pos) for column, (pos, _) in sheet.header.columns.items()]
                rows: list[tuple[Any, ...]] = []
                positions: list[int] = []
                values = book[sheet.title].iter_rows(min_row=2, values_only=True)
                for excel_row, row in enumerate(values, start=2):
                    if not any(v is not None and str(v).strip() != "" for v in row):
                        continue
                    row_no += 1
                    rows.append(tuple(row) + (None,) * max(0, sheet.width - len(row)))
                    positions.append(excel_row)
                    if len(rows) >= chunk_rows:
                        yield self._build(rows, positions, row_no - len(rows) + 1, wanted)
                        rows, positions = [], []
                if rows:
                    yield self._build(rows, positions, row_no - len(rows) + 1, wanted)
                first = self._starts[-1]
                found = f"data rows {first}-{row_no}" if row_no >= first else "no data rows (header only)"
                log.info("%s: sheet %r = %s", self.name, sheet.title, found)
            if row_no == 0:
                titles = ", ".join(repr(s.title) for s in self.sheets)
                raise IngestError(f"{self.name}: sheet(s) {titles} header only (row 1): no data rows")
        finally:
            book.close()

    def _build(
        self, rows: list[tuple[Any, ...]], positions: list[int], first: int, wanted: list[tuple[str, int]]
    ) -> pd.DataFrame:
        fields = list(zip(*rows, strict=False))
        columns = {column: pd.Series(list(fields[pos]), dtype=object) for column, pos in wanted}
        return self._frame(columns, first, positions)
