"""The item master: one sellable product of the ERP's catalogue."""

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Item"]


class Item(BaseModel):
    """A product from the ERP's item catalogue (``Catalog_Номенклатура``).

    Folders of the catalogue are not items: they only give each item its
    ``folder_path``. An item marked for deletion in the ERP is not an Item
    either, but a tombstone.
    """

    # JSON has no NaN or Infinity, and Python's json module would write them
    # as bare words that other parsers reject.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    entity: ClassVar[str] = "items"
    schema_version: ClassVar[int] = 2

    ref: str = Field(
        min_length=1, description="The ERP's reference key (Ref_Key), a GUID."
    )
    code: str = Field(
        min_length=1, description="The ERP's catalogue code, such as НФ-00000007."
    )
    name: str = Field(min_length=1, description="Short name shown on shelf labels.")
    full_name: str = Field(
        min_length=1, description="Full name for documents and receipts."
    )
    article: str | None = Field(description="Manufacturer's article number.")
    unit_ref: str | None = Field(description="Reference key of the unit of measure.")
    unit_code: str | None = Field(
        None, description="Code of the unit of measure (OKEI), such as 796."
    )
    unit_name: str | None = Field(
        None, description="Short name of the unit of measure, such as шт."
    )
    vat_rate: str | None = Field(
        description="VAT rate as the ERP's enumeration value, such as НДС20."
    )
    item_type: str | None = Field(description="Kind of item, such as Товар.")
    weight_kg: float | None = Field(description="Weight of one unit in kilograms.")
    folder_ref: str | None = Field(description="Reference key of the item's folder.")
    folder_path: list[str] = Field(
        description="Names of the folders from the root to the item's own folder."
    )
    barcodes: list[str] = Field(default_factory=list, description="EAN-13 barcodes.")
    principal_ref: str | None = Field(
        None,
        description="Reference key of the counterparty that sells the item on "
        "commission, or null when the item is the company's own.",
    )
    created_at: datetime | None = Field(
        None, description="When the item was created in the ERP (its local time)."
    )
