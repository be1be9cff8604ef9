"""Tests of ``Catalogue.mutate``: what each kind of change does to the rows."""

from pathlib import Path
from typing import Any

import pytest

from erp_simulator import (
    BARCODES,
    ITEMS,
    Catalogue,
    MutationError,
    MutationNotSupportedError,
    MutationReport,
    is_valid_ean13,
)

CONTENT_FIELDS = ("Description", "НаименованиеПолное", "Артикул", "ВесЧислитель")


def by_ref(catalogue: Catalogue) -> dict[str, dict[str, Any]]:
    return {row["Ref_Key"]: row for row in catalogue.rows(ITEMS)}


def mutate_sample() -> tuple[Catalogue, dict[str, dict[str, Any]], MutationReport]:
    catalogue = Catalogue.generate(seed=5, items=800)
    before = by_ref(catalogue)
    report = catalogue.mutate(edit=50, add=20, mark_deleted=5, remove=5)
    return catalogue, before, report


def test_report_counts_and_disjoint_groups() -> None:
    _, before, report = mutate_sample()
    assert report.sequence == 1
    assert len(report.edited) == 50
    assert len(report.added) == 20
    assert len(report.marked_deleted) == 5
    assert len(report.removed) == 5
    groups = [report.edited, report.added, report.marked_deleted, report.removed]
    every_ref = [ref for group in groups for ref in group]
    assert len(set(every_ref)) == len(every_ref)
    for ref in report.edited + report.marked_deleted + report.removed:
        assert not before[ref]["IsFolder"]
        assert not before[ref]["DeletionMark"]


def test_edited_items_change_content_and_version() -> None:
    catalogue, before, report = mutate_sample()
    after = by_ref(catalogue)
    for ref in report.edited:
        old, new = before[ref], after[ref]
        assert new["DataVersion"] != old["DataVersion"]
        old_content = tuple(old[field] for field in CONTENT_FIELDS)
        new_content = tuple(new[field] for field in CONTENT_FIELDS)
        assert new_content != old_content, ref
        assert new["Code"] == old["Code"]
        assert new["Parent_Key"] == old["Parent_Key"]


def test_untouched_items_keep_their_rows() -> None:
    catalogue, before, report = mutate_sample()
    after = by_ref(catalogue)
    touched = set(report.edited + report.marked_deleted + report.removed)
    for ref, row in before.items():
        if ref not in touched:
            assert after[ref] == row


def test_added_items_have_barcodes_and_folders() -> None:
    catalogue, before, report = mutate_sample()
    after = by_ref(catalogue)
    barcodes = catalogue.rows(BARCODES)
    owners = {row["Номенклатура_Key"] for row in barcodes}
    for ref in report.added:
        assert ref not in before
        row = after[ref]
        assert not row["IsFolder"]
        assert not row["DeletionMark"]
        assert after[row["Parent_Key"]]["IsFolder"]
        assert ref in owners
    for row in barcodes:
        assert is_valid_ean13(row["Штрихкод"])
    codes = [row["Code"] for row in after.values()]
    assert len(set(codes)) == len(codes)


def test_marked_items_stay_with_deletion_mark() -> None:
    catalogue, before, report = mutate_sample()
    after = by_ref(catalogue)
    for ref in report.marked_deleted:
        assert after[ref]["DeletionMark"] is True
        assert after[ref]["DataVersion"] != before[ref]["DataVersion"]


def test_removed_items_and_barcodes_disappear() -> None:
    catalogue, before, report = mutate_sample()
    after = by_ref(catalogue)
    owners = {row["Номенклатура_Key"] for row in catalogue.rows(BARCODES)}
    for ref in report.removed:
        assert ref in before
        assert ref not in after
        assert ref not in owners


def test_mutations_repeat_from_seed() -> None:
    first = Catalogue.generate(seed=11, items=300)
    second = Catalogue.generate(seed=11, items=300)
    for _ in range(3):
        first_report = first.mutate(edit=5, add=2, mark_deleted=1, remove=1)
        second_report = second.mutate(edit=5, add=2, mark_deleted=1, remove=1)
        assert first_report == second_report
    assert first.rows(ITEMS) == second.rows(ITEMS)
    assert first.rows(BARCODES) == second.rows(BARCODES)
    assert first.mutation_count == 3


def test_successive_mutations_pick_differently() -> None:
    catalogue = Catalogue.generate(seed=11, items=300)
    first = catalogue.mutate(edit=10)
    second = catalogue.mutate(edit=10)
    assert first.edited != second.edited
    assert second.sequence == 2


def test_marked_items_are_not_picked_again() -> None:
    catalogue = Catalogue.generate(seed=3, items=100)
    live = [
        row
        for row in catalogue.rows(ITEMS)
        if not row["IsFolder"] and not row["DeletionMark"]
    ]
    report = catalogue.mutate(mark_deleted=len(live))
    assert set(report.marked_deleted) == {row["Ref_Key"] for row in live}
    with pytest.raises(MutationError, match="only 0 items"):
        catalogue.mutate(edit=1)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"edit": -1}, "edit must be a non-negative integer"),
        ({"remove": 1.5}, "remove must be a non-negative integer"),
        ({"edit": 400, "remove": 400}, "pick 800 items"),
        ({"add": 100_001}, "add must be at most"),
    ],
)
def test_invalid_counts_raise(counts: dict[str, Any], message: str) -> None:
    catalogue = Catalogue.generate(seed=3, items=500)
    rows_before = catalogue.rows(ITEMS)
    with pytest.raises(MutationError, match=message):
        catalogue.mutate(**counts)
    assert catalogue.rows(ITEMS) == rows_before
    assert catalogue.mutation_count == 0


def test_replayed_catalogue_cannot_mutate() -> None:
    catalogue = Catalogue.from_folder(Path(__file__).parent / "fixtures" / "onec")
    with pytest.raises(MutationNotSupportedError, match="replayed"):
        catalogue.mutate(edit=1)
