"""Stock levels: what one store holds of one item."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["StockLevel"]


class StockLevel(BaseModel):
    """The stock of one item in one store's warehouse, from the ERP's balance.

    Each store receives only the stock of its own warehouse.
    """

    # JSON has no NaN or Infinity, and Python's json module would write them
    # as bare words that other parsers reject.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    entity: ClassVar[str] = "stock"
    schema_version: ClassVar[int] = 1

    item_ref: str = Field(min_length=1, description="Reference key of the item.")
    store_id: str = Field(min_length=1, description="Id of the store in the hub.")
    warehouse_ref: str = Field(
        min_length=1, description="Reference key of the store's warehouse."
    )
    on_hand: float = Field(description="Quantity in the warehouse, in item units.")
    reserved: float = Field(
        description="Quantity reserved for shipment, in item units."
    )
