"""Retail prices: the current price of an item under one price type."""

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Price", "PriceType"]


class Price(BaseModel):
    """The price of one item under one price type, from the ERP's price register.

    The hub carries the latest price of each pair (the register's SliceLast),
    scoped to the store group that sells at that price type.
    """

    # JSON has no NaN or Infinity, and Python's json module would write them
    # as bare words that other parsers reject.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    entity: ClassVar[str] = "prices"
    schema_version: ClassVar[int] = 1

    item_ref: str = Field(min_length=1, description="Reference key of the item.")
    price_type_ref: str = Field(
        min_length=1, description="Reference key of the price type."
    )
    price: float = Field(ge=0, description="Price of one unit, VAT included.")
    currency_ref: str | None = Field(description="Reference key of the currency.")
    valid_from: datetime = Field(
        description="When this price took effect (the register's Period)."
    )


class PriceType(BaseModel):
    """A price type of the ERP (``Catalog_ВидыЦен``), such as Розничная."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity: ClassVar[str] = "price_types"
    schema_version: ClassVar[int] = 1

    ref: str = Field(min_length=1, description="The ERP's reference key, a GUID.")
    code: str = Field(min_length=1, description="The ERP's catalogue code.")
    name: str = Field(min_length=1, description="Name of the price type.")
    currency_ref: str | None = Field(description="Reference key of the currency.")
