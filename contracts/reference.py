"""Reference data of the ERP that stores need beside items: stores and units."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Store", "Unit"]


class Store(BaseModel):
    """A retail store: a warehouse of type РозничныйМагазин in ``Catalog_Склады``.

    A store marked for deletion in the ERP becomes a tombstone.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity: ClassVar[str] = "stores"
    schema_version: ClassVar[int] = 1

    ref: str = Field(min_length=1, description="The warehouse's reference key.")
    code: str = Field(min_length=1, description="The warehouse's catalogue code.")
    name: str = Field(min_length=1, description="The warehouse's name.")
    city: str | None = Field(description="City of the store, from its name.")


class Unit(BaseModel):
    """A unit of measure (``Catalog_ЕдиницыИзмерения``), such as шт or кг."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity: ClassVar[str] = "units"
    schema_version: ClassVar[int] = 1

    ref: str = Field(min_length=1, description="The ERP's reference key, a GUID.")
    code: str = Field(min_length=1, description="The OKEI code, such as 796.")
    name: str = Field(min_length=1, description="Short name, such as шт.")
    full_name: str | None = Field(description="Full name, such as Штука.")
