"""The checked-in JSON Schemas of the contracts match the models."""

from contracts import ENTITIES
from contracts.export import SCHEMA_DIR, render_schemas


def test_schema_files_are_current() -> None:
    for file_name, text in render_schemas().items():
        path = SCHEMA_DIR / file_name
        assert path.is_file(), f"{path} missing; run python -m contracts.export"
        current = path.read_text(encoding="utf-8")
        assert current == text, f"{path} out of date; run python -m contracts.export"


def test_every_entity_has_a_schema() -> None:
    assert set(render_schemas()) == {f"{name}.json" for name in ENTITIES}
