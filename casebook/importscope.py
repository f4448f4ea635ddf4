"""Keeping an import within the regions its importer may write into.

An auditor bound to a region (`auditor:510300`) may import claims treated in 510300, the hospitals of
510300 and 510300's group tables, and nothing else: a row of another region, or a row that would revise
a claim or hospital stored as another region's (relabelling it), is rejected like any bad row, with its
reason, and the rest of the file goes in; so is a claim at a hospital stored as another region's (its
case and findings would go before that hospital). An import without a region restriction
(`regions=None`: an unscoped auditor, the owner of a private casebook) checks nothing here.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection

from drgaudit.casebook.bulk import lookup
from drgaudit.casebook.models import Claim, Hospital, table_of
from drgaudit.casebook.prepare import PreparedChunk
from drgaudit.i18n import _
from drgaudit.ingest.rows import pick

# The field of each import kind that says which region a row belongs to.
REGION_FIELD = {"claims": "treatment_region", "hospitals": "region", "groups": "region"}

_claim = table_of(Claim)
_hospital = table_of(Hospital)
# A stored record a row would revise, by kind: (key field, key column, region column).
_STORED = {
    "claims": ("claim_id", _claim.c.claim_id, _claim.c.treatment_region),
    "hospitals": ("hospital_id", _hospital.c.hospital_id, _hospital.c.region),
}


def outside_rows(
    conn: Connection, kind: str, chunk: PreparedChunk, regions: Collection[str]
) -> list[tuple[int, str, str]]:
    """The positions of the chunk's good rows that lie outside `regions`, each with the field and the
    reason: a row of another region, or one keyed like a record stored as another region's."""
    allowed = ", ".join(sorted(regions)) or _("none")
    region_field = REGION_FIELD[kind]
    refused: dict[int, tuple[str, str]] = {}
    for i, region in enumerate(chunk.columns[region_field]):
        if region not in regions:
            refused[i] = (region_field, _outside(region, allowed))
    stored = _STORED.get(kind)
    if stored is not None:
        key_field, key_column, region_column = stored
        keys = chunk.columns[key_field]
        at = {key: i for i, key in enumerate(keys) if i not in refused}
        rows = lookup(conn, (key_column, region_column), key_column, list(at), region_column.not_in(regions))
        for key, region in rows:
            template = (
                _(
                    "{key} is stored as a claim treated in {region}, outside the regions this import may write into ({allowed})"
                )
                if kind == "claims"
                else _(
                    "{key} is stored as a hospital in {region}, outside the regions this import may write into ({allowed})"
                )
            )
            refused[at[key]] = (key_field, template.format(key=key, region=region, allowed=allowed))
    if kind == "claims":
        # A claim of this region at another region's hospital would put a case and findings before that
        # hospital, from an auditor outside its region.
        hospitals = chunk.columns["hospital_id"]
        at_hospital: dict[str, list[int]] = {}
        for i, hospital_id in enumerate(hospitals):
            if i not in refused and hospital_id:
                at_hospital.setdefault(hospital_id, []).append(i)
        rows = lookup(
            conn, (_hospital.c.hospital_id, _hospital.c.region), _hospital.c.hospital_id, list(at_hospital),
            _hospital.c.region.not_in(regions),
        )  # fmt: skip
        for hospital_id, region in rows:
            for i in at_hospital[hospital_id]:
                refused[i] = (
                    "hospital_id",
                    _(
                        "{hospital} is a hospital in {region}, outside the regions this import may write into ({allowed})"
                    ).format(hospital=hospital_id, region=region, allowed=allowed),
                )
    return sorted((i, f, r) for i, (f, r) in refused.items())


def _outside(region: str, allowed: str) -> str:
    return _("{region} is outside the regions this import may write into ({allowed})").format(
        region=region, allowed=allowed
    )


def without(chunk: PreparedChunk, positions: Collection[int]) -> PreparedChunk:
    """The chunk without the good rows at `positions` (their rows are reported by the caller)."""
    gone = set(positions)
    kept = [i for i in range(len(chunk.rows)) if i not in gone]
    return PreparedChunk(
        rows=[chunk.rows[i] for i in kept],
        columns={name: pick(values, kept) for name, values in chunk.columns.items()},
        hashes=[chunk.hashes[i] for i in kept],
        rejected=chunk.rejected,
        rows_read=chunk.rows_read,
        fraction=chunk.fraction,
        unknown_fields=chunk.unknown_fields,
    )
