"""Schemathesis hooks for the attack on the local runner (scripts/attack_api.py).

A tracking number carries a check digit, which no schema can say, so a generated label is
almost always refused (422) and the stateful chains would stop at "create an order": a
labeled order is what voiding, claiming and moving a claim need. Half of the schema-valid
label uploads therefore get a real UPS number, new each time, so those chains go on.
Schema-violating cases are left as generated: they must still be refused.
"""

from __future__ import annotations

import itertools

import schemathesis

LABEL_UPLOAD = "POST /orders/{order_id}/label"
_serials = itertools.count(1)


def ups_tracking_number(serial: int) -> str:
    """1Z, a shipper and service (999AA1), a package number, and UPS's check digit."""
    body = f"999AA1{serial:09d}"
    values = [int(c) if c.isdigit() else (ord(c) - 63) % 10 for c in body]
    total = sum(values[0::2]) + 2 * sum(values[1::2])
    return f"1Z{body}{(10 - total % 10) % 10}"


# The project's fixture number (1Z999AA10123456784) is what this makes of its own serial.
assert ups_tracking_number(12345678) == "1Z999AA10123456784"


@schemathesis.hook
def map_case(context, case):
    if case.operation.label != LABEL_UPLOAD or not isinstance(case.body, dict):
        return case
    meta = getattr(case, "meta", None)
    positive = meta is not None and meta.generation.mode.is_positive
    serial = next(_serials)
    if positive and serial % 2 == 0:
        case.body = {**case.body, "carrier": "ups", "tracking_number": ups_tracking_number(serial),
                     "label_source": "jetpack", "service": "Ground"}
        case.body.pop("shipment_id", None)
    return case
