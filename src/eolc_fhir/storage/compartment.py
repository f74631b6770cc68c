"""A person's resources in one or two statements, for Patient/$wishes and $everything.

``PatientReader.fetch`` returns the live Patient rows (by id, or by an
identifier through the token index), every live resource of the wanted
types whose ``patient`` / ``subject`` reference index rows point at them and,
on request, their contacts (GP practice, episode organisation and care
manager), in ONE statement. On a SQLite file it runs on a read-only ``sqlite3`` connection
on the event loop (an indexed lookup takes well under a millisecond; a hop
through aiosqlite's thread costs more than the query; several statements
share one read transaction). On PostgreSQL it uses the Database's asyncpg
read pool (autocommit: one statement is one snapshot). An in-memory SQLite
database lives in the engine's one connection, which no second connection can
see: there the statements run in a read unit of work. The SQL is the same
text for all (named parameters, numbered for asyncpg). A locked or
unreachable database raises ``ServiceUnavailable``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from eolc_fhir.storage.errors import translated
from eolc_fhir.storage.model import Row
from eolc_fhir.storage.pg_reader import dollar_params
from eolc_fhir.storage.read_sources import ReadSources

__all__ = ["Row", "PatientReader"]

_COLS = "r.res_type, r.res_id, r.version, r.last_updated_us, r.content"
_BY_IDENTIFIER = (
    "SELECT t.res_id FROM idx_token t WHERE t.res_type = 'Patient' AND t.param = 'identifier'"
    " AND t.code = :code AND t.system = :system"
)


def _placeholders(prefix: str, values: Sequence[str], params: dict[str, Any]) -> str:
    names = []
    for n, value in enumerate(values):
        params[f"{prefix}{n}"] = value
        names.append(f":{prefix}{n}")
    return ", ".join(names) or "NULL"


def _compartment_sql(patients: str, types: Sequence[str], params: dict[str, Any],
                     contacts: bool = False) -> str:
    """``types`` empty: every type. ``contacts``: also the GP practices of the patients and
    the organisations and care managers of their episodes (through the reference index)."""
    only = f" AND x.res_type IN ({_placeholders('ty', types, params)})" if types else ""
    sql = (
        f"SELECT {_COLS} FROM resources r WHERE r.res_type = 'Patient'"
        f" AND r.res_id IN ({patients}) AND NOT r.deleted"
        f" UNION ALL SELECT {_COLS} FROM resources r JOIN ("
        "SELECT DISTINCT x.res_type, x.res_id FROM idx_reference x"
        " WHERE x.param IN ('patient', 'subject') AND x.target_type = 'Patient'"
        f" AND x.target_id IN ({patients}){only}"
        ") m ON r.res_type = m.res_type AND r.res_id = m.res_id WHERE NOT r.deleted"
    )
    if contacts:
        # ``param || ''`` keeps SQLite off the (param, ...) index, which would scan every
        # row of that parameter; the (res_type, res_id) index finds the few rows at once.
        episodes = ("SELECT e.res_id FROM idx_reference e WHERE e.res_type = 'EpisodeOfCare'"
                    " AND e.param = 'patient' AND e.target_type = 'Patient'"
                    f" AND e.target_id IN ({patients})")
        sql += (
            f" UNION ALL SELECT {_COLS} FROM resources r JOIN ("
            "SELECT c.target_type AS res_type, c.target_id AS res_id FROM idx_reference c"
            " WHERE c.res_type = 'Patient' AND c.param || '' = 'general-practitioner'"
            f" AND c.res_id IN ({patients}) UNION"
            " SELECT c.target_type, c.target_id FROM idx_reference c"
            " WHERE c.res_type = 'EpisodeOfCare' AND c.param || '' IN ('organization',"
            f" 'care-manager') AND c.res_id IN ({episodes})"
            ") k ON r.res_type = k.res_type AND r.res_id = k.res_id WHERE NOT r.deleted"
        )
    return sql


def _keys_sql(keys: Sequence[tuple[str, str]], params: dict[str, Any]) -> str:
    tests = []
    for n, (rtype, rid) in enumerate(keys):
        params[f"kt{n}"], params[f"ki{n}"] = rtype, rid
        tests.append(f"(r.res_type = :kt{n} AND r.res_id = :ki{n})")
    return f"SELECT {_COLS} FROM resources r WHERE NOT r.deleted AND ({' OR '.join(tests)})"


class PatientReader:
    """Reads a person's resources (on SQLite through the Database's read-only connection)."""

    def __init__(self, db: ReadSources) -> None:
        self.db = db

    async def fetch(self, types: Sequence[str], *, patient_ids: Sequence[str] = (),
                    identifier: tuple[str, str] | None = None,
                    contacts: bool = False) -> list[Row]:
        """Patients (by id or by identifier (system, value)) and their resources of ``types``
        (plus their contacts, see ``_compartment_sql``), in one statement."""
        params: dict[str, Any] = {}
        if identifier is not None:
            params["system"], params["code"] = identifier
            patients = _BY_IDENTIFIER
        else:
            patients = _placeholders("pid", patient_ids, params)
        return await self._run([(_compartment_sql(patients, types, params, contacts), params)])

    async def get_many(self, keys: Sequence[tuple[str, str]]) -> list[Row]:
        if not keys:
            return []
        params: dict[str, Any] = {}
        return await self._run([(_keys_sql(keys, params), params)])

    async def _run(self, statements: list[tuple[str, dict[str, Any]]]) -> list[Row]:
        return [row for rows in await self._run_each(statements) for row in rows]

    async def _run_each(self, statements: list[tuple[str, dict[str, Any]]]) -> list[list[Row]]:
        fast = self.db.sqlite_reader()
        if fast is not None:
            with translated():
                return _run_fast(fast, statements)
        pg = self.db.pg
        if pg is None:  # in-memory SQLite
            return await self._run_in_unit_of_work(statements)
        out = []
        for sql, params in statements:  # autocommit: one statement is one snapshot
            text, args = dollar_params(sql, params)
            out.append([_row(r) for r in await pg.fetch(text, args)])
        return out


    async def _run_in_unit_of_work(self, statements: list[tuple[str, dict[str, Any]]]
                                   ) -> list[list[Row]]:
        async with self.db.unit_of_work(write=False) as uow:  # one snapshot for all
            return [[_row(r) for r in await uow.connection.exec_driver_sql(sql, params)]
                    for sql, params in statements]


def _run_fast(conn: sqlite3.Connection,
              statements: list[tuple[str, dict[str, Any]]]) -> list[list[Row]]:
    if len(statements) == 1:  # one statement is one snapshot
        sql, params = statements[0]
        return [[_row(r) for r in conn.execute(sql, params)]]
    conn.execute("BEGIN")  # one snapshot for every statement
    try:
        return [[_row(r) for r in conn.execute(sql, params)] for sql, params in statements]
    finally:
        conn.execute("COMMIT")


def _row(row: Any) -> Row:
    return Row(row[0], row[1], int(row[2]), int(row[3]), bytes(row[4]))
