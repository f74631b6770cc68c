"""Export files: one resource a line, split at the line limit, Patient ids kept beside."""

from __future__ import annotations

from pathlib import Path

import orjson

from eolc_fhir.services.export.writer import _Files


async def test_files_split_and_keep_one_resource_a_line(tmp_path: Path) -> None:
    files = _Files(tmp_path, "Patient", limit=2)
    pretty = b'{\n  "resourceType": "Patient",\r\n  "id": "b"\n}'  # not as we store, but
    await files.write([("a", b'{"resourceType":"Patient","id":"a"}'), ("b", pretty)])
    await files.write([("c", b'{"resourceType":"Patient","id":"c","x":"a\\nb"}')])
    await files.close()
    assert files.done == [("Patient", "Patient-1.ndjson", 2), ("Patient", "Patient-2.ndjson", 1)]
    first = (tmp_path / "Patient-1.ndjson").read_bytes().split(b"\n")
    assert first[-1] == b"" and [orjson.loads(line)["id"] for line in first[:-1]] == ["a", "b"]
    second = orjson.loads((tmp_path / "Patient-2.ndjson").read_bytes())
    assert second["x"] == "a\nb"  # an escaped line break inside a string stays
    assert (tmp_path / "Patient-1.ndjson.patients").read_text().split() == ["a", "b"]


async def test_a_type_with_no_rows_writes_no_file(tmp_path: Path) -> None:
    files = _Files(tmp_path, "Flag", limit=2)
    await files.write([])
    await files.close()
    assert files.done == [] and list(tmp_path.iterdir()) == []
