"""Checks the table stream's event filters in template.yaml against real stream records.

The local stack hands stream consumers every record (a stricter test of the handlers),
so nothing else would notice a filter that drops what a function must see. This applies
each consumer's FilterCriteria the way Lambda does (a record passes when any filter
matches; a pattern's lists are alternatives; `prefix` and `exists` as documented) to
records shaped like the ones the functions write, and fails on any wrong verdict.

Usage: python scripts/check_stream_filters.py
"""

import copy
import json
import sys
from pathlib import Path

from local_aws import load_template

ROOT = Path(__file__).resolve().parent.parent


def matches(pattern, value) -> bool:
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        for key, sub in pattern.items():
            if isinstance(sub, list) and any(
                isinstance(p, dict) and p.get("exists") is False for p in sub
            ):
                if key in value:
                    return False
                continue
            if key not in value or not matches(sub, value[key]):
                return False
        return True
    if isinstance(pattern, list):
        return any(alternative(p, value) for p in pattern)
    raise ValueError(f"unsupported pattern {pattern!r}")


def alternative(pattern, value) -> bool:
    if isinstance(pattern, dict):
        if "prefix" in pattern:
            return isinstance(value, str) and value.startswith(pattern["prefix"])
        if "exists" in pattern:
            return pattern["exists"] is True
        raise ValueError(f"unsupported pattern {pattern!r}")
    return value == pattern


def passes(filters: list, record: dict) -> bool:
    return any(matches(json.loads(f["Pattern"]), record) for f in filters)


def stream_filters(template: dict) -> dict[str, list]:
    found = {}
    for name, resource in template["Resources"].items():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "DynamoDB":
                found[name] = event["Properties"]["FilterCriteria"]["Filters"]
    return found


def records() -> dict[str, dict]:
    sample = json.loads((ROOT / "events/platform-sync/stream-label-created.json").read_text())
    label = sample["Records"][0]
    # The record shape Lambda filters on: the event name and the `dynamodb` change.
    label = {"eventName": label["eventName"], "dynamodb": label["dynamodb"]}

    def scan(code: str, handoff: bool, kind: str = "carrier_scan") -> dict:
        record = copy.deepcopy(label)
        image = record["dynamodb"]["NewImage"]
        image["type"] = {"S": kind}
        image["code"] = {"S": code}
        if handoff:
            image["handoff"] = {"M": {"carrier": {"S": "usps"},
                                      "tracking_number": {"S": "9400111899223197428497"}}}
        else:
            image.pop("handoff", None)
        return record

    order = copy.deepcopy(label)
    order["dynamodb"]["Keys"]["sk"] = {"S": "ORDER"}
    modify = copy.deepcopy(label)
    modify["eventName"] = "MODIFY"
    return {
        "label": label,
        "handoff scan": scan("HANDOFF", True, kind="handoff"),
        "in-transit scan with a hand-off": scan("IN_TRANSIT", True),
        "plain scan": scan("IN_TRANSIT", False),
        "voided label": scan("LABEL_VOIDED", False, kind="label_voided"),
        "order item": order,
        "modified event": modify,
    }


# What each stream consumer must and must not see.
EXPECTED = {
    "PlatformSyncFunction": {
        "label": True,
        "handoff scan": True,
        "in-transit scan with a hand-off": True,
        "plain scan": False,
        "voided label": True,
        "order item": False,
        "modified event": False,
    },
    "NotifierFunction": {
        "label": True,
        "handoff scan": True,
        "in-transit scan with a hand-off": True,
        "plain scan": True,
        "voided label": True,
        "order item": False,
        "modified event": False,
    },
}


def main() -> int:
    filters = stream_filters(load_template(ROOT / "template.yaml"))
    wrong = []
    for function, expected in EXPECTED.items():
        if function not in filters:
            wrong.append(f"{function} has no stream event with FilterCriteria")
            continue
        for name, record in records().items():
            got = passes(filters[function], record)
            if got != expected[name]:
                verb = "passes" if got else "drops"
                wrong.append(f"{function}'s stream filter {verb} a {name} record")
    for line in wrong:
        print(f"check_stream_filters: {line}", file=sys.stderr)
    if not wrong:
        print(f"check_stream_filters: {len(EXPECTED)} stream filters give every expected verdict")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
