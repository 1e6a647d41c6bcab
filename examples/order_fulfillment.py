"""Handlers of ``order_fulfillment``: an orders ledger, payments, stock and shipments, on disk.

Effects, in the data folder (``commerce/``):

- ``orders.json``: the orders ledger, by order id (a second run for the same order id fails);
- ``payments/<payment_id>.json``: the captured charge (the refund deletes it);
- ``inventory.json``: ``on_hand`` stock per SKU (edit it to set stock; a SKU not listed has
  ``DEFAULT_STOCK``), the ``reservations`` by id and the ``reserved`` count per SKU; a
  reservation that exceeds the available stock fails for good;
- ``shipments/<shipment_id>.json``: the shipping label with its tracking number.

Ids come from the idempotency key, so a retried or recovered attempt never charges, reserves or
ships twice. Try::

    journeys run definitions/order_fulfillment.yaml \\
        --handlers examples/order_fulfillment.py -i order_id=A-1 -i customer_id=c-7 \\
        -i sku=BEANS-1KG -i quantity=2 -i amount=37 -i currency=EUR \\
        -i shipping_address="1 Main St, Springfield" -i fail_at=shipping
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import journeys

from . import _files as files

DEFAULT_STOCK = 100


def _commerce(*parts: str) -> Path:
    return files.in_data("commerce", *parts)


@files.handler("orders.create_order")
def create_order(ctx: Any) -> dict[str, Any]:
    order_id = str(ctx.args["order_id"])
    quantity = int(ctx.args["quantity"])
    order = {
        "order_id": order_id,
        "run_id": ctx.run_id,
        "customer_id": ctx.args["customer_id"],
        "sku": ctx.args["sku"],
        "quantity": quantity,
        "status": "recorded",
    }

    def add(ledger: dict[str, Any]) -> dict[str, Any] | None:
        existing = ledger.get(order_id)
        if existing is not None and existing["run_id"] != ctx.run_id:
            return dict(existing)
        ledger[order_id] = order
        return None

    clash = files.update_json(_commerce("orders.json"), add)
    if clash is not None:
        raise journeys.Fatal(f"order {order_id} already exists (run {clash['run_id']})")
    return {"order_id": order_id, "status": "recorded"}


@files.handler("orders.cancel_order")
def cancel_order(ctx: Any) -> dict[str, Any]:
    order_id = str(ctx.args["order_id"])

    def drop(ledger: dict[str, Any]) -> bool:
        if (ledger.get(order_id) or {}).get("run_id") != ctx.run_id:
            return False  # not ours (or already gone)
        del ledger[order_id]
        return True

    return {"order_id": order_id, "cancelled": files.update_json(_commerce("orders.json"), drop)}


@files.handler("payments.charge")
def charge(ctx: Any) -> dict[str, Any]:
    amount = float(ctx.args["amount"])
    if amount <= 0:
        raise journeys.Fatal(f"cannot charge {amount}")
    payment_id = files.key_id(ctx, "pay")
    path = _commerce("payments", f"{payment_id}.json")
    payment = {
        "payment_id": payment_id,
        "order_id": ctx.args["order_id"],
        "customer_id": ctx.args["customer_id"],
        "amount": round(amount, 2),
        "currency": ctx.args["currency"],
        "status": "captured",
    }
    if files.read_json(path) != payment:  # a retry finds its charge and does not charge again
        files.write_json(path, payment)
    return {"payment_id": payment_id, "amount": payment["amount"], "currency": ctx.args["currency"]}


@files.handler("payments.refund_payment")
def refund_payment(ctx: Any) -> dict[str, Any]:
    payment_id = (ctx.result or {}).get("payment_id", "")
    path = _commerce("payments", f"{payment_id}.json")
    return {"payment_id": payment_id, "refunded": bool(payment_id) and files.remove(path)}


def _recount(stock: dict[str, Any]) -> None:
    """Recompute ``reserved`` from the reservations; drop what became empty."""
    reserved: dict[str, int] = {}
    for reservation in stock.get("reservations", {}).values():
        reserved[reservation["sku"]] = reserved.get(reservation["sku"], 0) + reservation["quantity"]
    stock["reserved"] = reserved
    for key in ("reservations", "reserved"):
        if not stock.get(key):
            stock.pop(key, None)


@files.handler("inventory.reserve")
def reserve(ctx: Any) -> dict[str, Any]:
    sku, quantity = str(ctx.args["sku"]), int(ctx.args["quantity"])
    reservation_id = files.key_id(ctx, "res")

    def take(stock: dict[str, Any]) -> int:
        reservations = stock.setdefault("reservations", {})
        if reservation_id not in reservations:
            on_hand = stock.get("on_hand", {}).get(sku, DEFAULT_STOCK)
            available = on_hand - stock.get("reserved", {}).get(sku, 0)
            if quantity > available:
                _recount(stock)
                return int(available)
            reservations[reservation_id] = {
                "sku": sku,
                "quantity": quantity,
                "order_id": ctx.args["order_id"],
                "run_id": ctx.run_id,
            }
        _recount(stock)
        return -1

    short = files.update_json(_commerce("inventory.json"), take)
    if short >= 0:
        raise journeys.Fatal(f"only {short} x {sku} available, {quantity} ordered")
    return {"reservation_id": reservation_id, "sku": sku, "quantity": quantity}


@files.handler("inventory.release_inventory")
def release_inventory(ctx: Any) -> dict[str, Any]:
    reservation_id = (ctx.result or {}).get("reservation_id", "")

    def give_back(stock: dict[str, Any]) -> bool:
        found = stock.get("reservations", {}).pop(reservation_id, None) is not None
        _recount(stock)
        return found

    released = files.update_json(_commerce("inventory.json"), give_back)
    return {"reservation_id": reservation_id, "released": released}


@files.handler("shipping.create_shipment")
def create_shipment(ctx: Any) -> dict[str, Any]:
    reservation_id = ctx.args["reservation_id"]
    stock = files.read_json(_commerce("inventory.json"), {})
    if reservation_id not in stock.get("reservations", {}):
        raise journeys.Fatal(f"reservation {reservation_id} not found: nothing to ship")
    shipment_id = files.key_id(ctx, "ship")
    label = {
        "shipment_id": shipment_id,
        "order_id": ctx.args["order_id"],
        "reservation_id": reservation_id,
        "address": ctx.args["address"],
        "tracking_number": f"JRN{files.digest(ctx.idempotency_key, 10).upper()}",
        "status": "booked",
    }
    path = _commerce("shipments", f"{shipment_id}.json")
    if files.read_json(path) != label:
        files.write_json(path, label)
    return {"shipment_id": shipment_id, "tracking_number": label["tracking_number"]}


@files.handler("shipping.cancel_shipment")
def cancel_shipment(ctx: Any) -> dict[str, Any]:
    shipment_id = (ctx.result or {}).get("shipment_id", "")
    path = _commerce("shipments", f"{shipment_id}.json")
    return {"shipment_id": shipment_id, "cancelled": bool(shipment_id) and files.remove(path)}
