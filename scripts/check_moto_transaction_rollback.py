"""Checks that moto_transaction_rollback changes how fast moto runs a TransactWriteItems,
never what it answers or leaves behind.

The same transactions run twice in-process, through boto3, first against moto as shipped
and then with the patch installed, on the same random tables: one with a sort key, a
global index and a local index, one without a sort key and with a global index, one with
number keys (written both "7" and "7.0"), two of them with streams. The transactions
succeed, or are cancelled by a condition on a later item after earlier items were put,
updated or deleted, or end in a validation error part-way through; they put new items,
new partitions, items carrying index attributes, delete and re-put, check missing items,
name a table by its ARN, and hold an element with two operations. A fixed set covers
each of those shapes, then a few hundred random transactions mix them.

After every transaction the two runs must agree on the answer (or the error, with its
cancellation reasons) and on moto's item store itself: every item, the order moto keeps
items and partitions in (an index Scan returns its ties in it), the empty partitions a
read leaves, and the stream records. At the end every table is also read back through
the API (full and index Scans, Queries, ItemCount, the stream from its start).
Run by `./dev test`; exits non-zero on any difference.

Usage: python scripts/check_moto_transaction_rollback.py [--time]

--time only measures: one TransactWriteItems against a table of 20,000 items (and one
against a small table), as shipped and patched.
"""

import random
import statistics
import sys
import time

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

import moto_transaction_rollback

REGION = "us-east-1"
TABLES = ("orders", "labels", "counters")


def attributes(**types):
    return [{"AttributeName": name, "AttributeType": kind} for name, kind in types.items()]


def keys(hash_name, range_name=None):
    schema = [{"AttributeName": hash_name, "KeyType": "HASH"}]
    if range_name:
        schema.append({"AttributeName": range_name, "KeyType": "RANGE"})
    return schema


def index(name, hash_name, range_name=None):
    return {"IndexName": name, "KeySchema": keys(hash_name, range_name), "Projection": {"ProjectionType": "ALL"}}


def create_tables(client):
    arns = {}
    arns["orders"] = client.create_table(
        TableName="orders", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=attributes(pk="S", sk="S", status="S", updated="N"),
        KeySchema=keys("pk", "sk"),
        GlobalSecondaryIndexes=[index("by_status", "status", "updated")],
        LocalSecondaryIndexes=[index("by_updated", "pk", "updated")],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["TableArn"]
    arns["labels"] = client.create_table(
        TableName="labels", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=attributes(pk="S", carrier="S"),
        KeySchema=keys("pk"),
        GlobalSecondaryIndexes=[index("by_carrier", "carrier")],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]["TableArn"]
    arns["counters"] = client.create_table(
        TableName="counters", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=attributes(pk="N"), KeySchema=keys("pk"),
    )["TableDescription"]["TableArn"]
    return arns


def order_key(p, s):
    return {"pk": {"S": f"P{p}"}, "sk": {"S": f"S{s:02}"}}


def label_key(n):
    return {"pk": {"S": f"L{n}"}}


def counter_key(n, rng=None):
    return {"pk": {"N": f"{n}.0" if rng is not None and rng.random() < 0.3 else str(n)}}


def order_item(rng, p, s):
    item = {**order_key(p, s), "n": {"N": str(rng.randrange(100))}}
    if rng.random() < 0.6:
        item["status"] = {"S": rng.choice(["open", "shipped", "lost"])}
        item["updated"] = {"N": str(rng.randrange(5))}  # few values: index ties keep store order
    return item


def label_item(rng, n):
    item = {**label_key(n), "n": {"N": str(rng.randrange(100))}}
    if rng.random() < 0.7:
        item["carrier"] = {"S": rng.choice(["dhl", "ups"])}
    return item


def fill(client, rng):
    for _ in range(150):
        client.put_item(TableName="orders", Item=order_item(rng, rng.randrange(30), rng.randrange(20)))
    for n in range(100):
        client.put_item(TableName="labels", Item=label_item(rng, n))
    for n in range(40):
        client.put_item(TableName="counters", Item={**counter_key(n), "n": {"N": "0"}})


def put(table, item, condition=None, **extra):
    op = {"TableName": table, "Item": item, **extra}
    if condition:
        op["ConditionExpression"] = condition
    return {"Put": op}


def update(table, key, expression, values=None, condition=None, **extra):
    op = {"TableName": table, "Key": key, "UpdateExpression": expression, **extra}
    if values:
        op["ExpressionAttributeValues"] = values
    if condition:
        op["ConditionExpression"] = condition
    return {"Update": op}


def delete(table, key, condition=None, **extra):
    op = {"TableName": table, "Key": key, **extra}
    if condition:
        op["ConditionExpression"] = condition
    return {"Delete": op}


def check(table, key, condition="attribute_exists(pk)", **extra):
    return {"ConditionCheck": {"TableName": table, "Key": key, "ConditionExpression": condition, **extra}}


MISSING = "attribute_exists(pk)"
ABSENT = "attribute_not_exists(pk)"


def fixed_transactions(rng, arns):
    """(what, TransactItems): each shape once, against known items."""
    existing_order = order_key(0, 0)
    return [
        ("success across tables: put, update, delete, check", [
            put("orders", order_item(rng, 40, 1)),
            update("orders", existing_order, "SET #s = :s, updated = :u ADD n :one",
                   {":s": {"S": "lost"}, ":u": {"N": "2"}, ":one": {"N": "1"}},
                   ExpressionAttributeNames={"#s": "status"}),
            delete("labels", label_key(3)),
            check("counters", counter_key(1)),
            put("labels", {**label_key(900), "carrier": {"S": "dhl"}}),
        ]),
        ("cancelled by a ConditionCheck after puts, updates and deletes", [
            put("orders", order_item(rng, 41, 0)),
            put("orders", order_item(rng, 0, 7)),
            update("orders", order_key(1, 1), "SET #s = :s", {":s": {"S": "open"}},
                   ExpressionAttributeNames={"#s": "status"}),
            delete("orders", order_key(2, 2)),
            delete("labels", label_key(5)),
            delete("labels", label_key(6)),
            put("labels", label_item(rng, 7)),
            update("counters", counter_key(2), "ADD n :one", {":one": {"N": "1"}}),
            check("labels", label_key(99999)),
        ]),
        ("cancelled by a Put's condition on the last item, ALL_OLD asked", [
            delete("labels", label_key(10)),
            update("labels", label_key(11), "SET carrier = :c", {":c": {"S": "ups"}}),
            put("labels", label_item(rng, 12), ABSENT, ReturnValuesOnConditionCheckFailure="ALL_OLD"),
        ]),
        ("cancelled by an Update's condition, ALL_OLD asked", [
            delete("orders", order_key(3, 3)),
            put("orders", order_item(rng, 3, 19)),
            update("orders", order_key(4, 4), "SET n = :n", {":n": {"N": "1"}, ":big": {"N": "1000"}},
                   "n > :big", ReturnValuesOnConditionCheckFailure="ALL_OLD"),
        ]),
        ("cancelled: several conditions fail, deletes of items that exist and do not", [
            delete("labels", label_key(20), MISSING),
            delete("labels", label_key(5000)),
            delete("orders", order_key(5, 5), MISSING),
            check("orders", order_key(77, 1)),
            check("counters", counter_key(3), ABSENT),
        ]),
        ("cancelled: checks on missing partitions (the empty partitions they leave go too)", [
            check("orders", order_key(88, 0), ABSENT),
            check("orders", order_key(89, 0), MISSING),
        ]),
        ("success: a check on a missing partition (moto keeps the empty partition)", [
            check("orders", order_key(90, 0), ABSENT),
            put("counters", {**counter_key(500), "n": {"N": "5"}}),
        ]),
        ("cancelled: Update creating an item in a new partition", [
            update("orders", order_key(91, 3), "SET #s = :s, updated = :u",
                   {":s": {"S": "open"}, ":u": {"N": "1"}}, ExpressionAttributeNames={"#s": "status"}),
            update("labels", label_key(901), "SET carrier = :c", {":c": {"S": "dhl"}}),
            check("labels", label_key(902)),
        ]),
        ("validation error part-way (ADD to a string) after writes", [
            put("labels", label_item(rng, 903)),
            delete("labels", label_key(30)),
            delete("orders", order_key(6, 6)),
            update("orders", order_key(7, 7), "SET #s = :s", {":s": {"S": "open"}},
                   ExpressionAttributeNames={"#s": "status"}),
            update("labels", label_key(31), "ADD carrier :one", {":one": {"N": "1"}}),
        ]),
        ("two operations on one item after writes", [
            delete("labels", label_key(40)),
            put("orders", order_item(rng, 8, 8)),
            update("labels", label_key(41), "SET n = :n", {":n": {"N": "7"}}),
            delete("labels", label_key(41)),
        ]),
        ("one key written 7 and 7.0: delete then put, cancelled", [
            delete("counters", {"pk": {"N": "7"}}),
            put("counters", {"pk": {"N": "7.0"}, "n": {"N": "70"}}),
            delete("counters", {"pk": {"N": "8.0"}}),
            check("counters", counter_key(9), ABSENT),
        ]),
        ("one key written 7 and 7.0: delete then put, succeeds", [
            delete("counters", {"pk": {"N": "10"}}),
            put("counters", {"pk": {"N": "10.0"}, "n": {"N": "100"}}),
        ]),
        ("table by ARN and by name, cancelled", [
            put(arns["labels"], label_item(rng, 904)),
            delete(arns["orders"], order_key(9, 9)),
            put("orders", order_item(rng, 9, 10)),
            check("labels", label_key(50), ABSENT),
        ]),
        ("table only by ARN, cancelled (moto keeps its writes)", [
            put(arns["counters"], {**counter_key(600), "n": {"N": "6"}}),
            delete(arns["counters"], counter_key(11)),
            check(arns["counters"], counter_key(12), ABSENT),
        ]),
        ("an element with two operations after writes (moto keeps them)", [
            put("labels", label_item(rng, 905)),
            delete("orders", order_key(10, 10)),
            {**put("labels", label_item(rng, 906)), **delete("labels", label_key(60))},
        ]),
        ("a missing table in a ConditionCheck", [
            put("labels", label_item(rng, 907)),
            check("no_such_table", label_key(1)),
        ]),
        ("delete every item of a partition, then cancelled", [
            *(delete("orders", order_key(11, s)) for s in range(20)),
            check("orders", order_key(12, 0), "attribute_exists(nothing_has_this)"),
        ]),
        ("delete every item of a partition, succeeds (the empty partition stays)", [
            *(delete("orders", order_key(13, s)) for s in range(20)),
        ]),
    ]


def random_transaction(rng, arns):
    items, used = [], set()
    for _ in range(rng.randrange(1, 7)):
        table = rng.choice(TABLES)
        if table == "orders":
            p, s = rng.randrange(34), rng.randrange(22)
            key, whole = order_key(p, s), lambda: order_item(rng, p, s)
        elif table == "labels":
            n = rng.randrange(115)
            key, whole = label_key(n), lambda: label_item(rng, n)
        else:
            n = rng.randrange(46)
            key, whole = counter_key(n, rng), lambda: {**counter_key(n, rng), "n": {"N": str(rng.randrange(9))}}
        identity = (table, str(sorted(key.items())))
        if identity in used and rng.random() < 0.9:
            continue  # now and then two operations on one item: a validation error
        used.add(identity)
        name = arns[table] if rng.random() < 0.1 else table
        condition = rng.choice([None] * 6 + [MISSING, ABSENT, "n > :limit"])
        extra = {}
        if condition and rng.random() < 0.3:
            extra["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        limit = {":limit": {"N": str(rng.randrange(100))}} if condition == "n > :limit" else {}
        if limit:
            extra["ExpressionAttributeValues"] = limit
        kind = rng.random()
        if kind < 0.3:
            items.append(put(name, whole(), condition, **extra))
        elif kind < 0.5:
            items.append(delete(name, key, condition, **extra))
        elif kind < 0.85:
            extra.pop("ExpressionAttributeValues", None)
            values = {**limit, ":n": {"N": str(rng.randrange(100))}}
            expression = "SET n = :n"
            if table == "orders" and rng.random() < 0.5:
                expression += ", #s = :s, updated = :u"
                values.update({":s": {"S": rng.choice(["open", "lost"])}, ":u": {"N": str(rng.randrange(5))}})
                extra["ExpressionAttributeNames"] = {"#s": "status"}
            elif table == "labels" and rng.random() < 0.3:
                expression = "REMOVE carrier" if rng.random() < 0.5 else "SET carrier = :c"
                values = {**limit, ":c": {"S": "ups"}} if expression.startswith("SET") else limit
            if rng.random() < 0.03:
                expression, values = "ADD pk :one", {**limit, ":one": {"N": "1"}}  # a key: refused
            items.append(update(name, key, expression, values or None, condition, **extra))
        else:
            items.append(check(name, key, condition or MISSING, **extra))
    return items or [check("labels", label_key(0))]


def attempt(client, transact_items):
    try:
        response = client.transact_write_items(TransactItems=transact_items)
    except ClientError as error:
        return ("error", error.response["Error"], error.response.get("CancellationReasons"))
    return ("ok", {k: v for k, v in response.items() if k != "ResponseMetadata"})


def backend():
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]


def store(table_name):
    """moto's item store as it is, in its own order, plus the stream's records."""
    table = backend().tables[table_name]
    if table.range_key_attr:
        items = [(hash_key.to_json(), [(range_key.to_json(), item.to_json()) for range_key, item in partition.items()])
                 for hash_key, partition in table.items.items()]
    else:
        items = [(hash_key.to_json(), item.to_json()) for hash_key, item in table.items.items()]
    records = None
    if table.stream_shard:
        # How many, and the latest few: every record is compared when the stream is read back.
        records = (len(table.stream_shard.items),
                   [without_noise(record.to_json()) for record in table.stream_shard.items[-8:]])
    return {"items": items, "len": len(table), "records": records}


def without_noise(record):
    """A stream record without what differs between any two runs: its id, its time and
    its size (moto measures the record with its time in it)."""
    dynamodb = {k: v for k, v in record["dynamodb"].items()
                if k not in ("ApproximateCreationDateTime", "SizeBytes")}
    return {**{k: v for k, v in record.items() if k not in ("eventID", "dynamodb")}, "dynamodb": dynamodb}


def scanned(client, **request):
    pages = []
    while True:
        response = client.scan(**request)
        pages.append((response["Items"], response.get("LastEvaluatedKey")))
        if "LastEvaluatedKey" not in response:
            return pages
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def read_back(client, streams):
    """Every table through the API: what a client sees after all the transactions."""
    seen = {}
    for name in TABLES:
        described = client.describe_table(TableName=name)["Table"]
        seen[name] = {
            "count": described["ItemCount"],
            "scan": scanned(client, TableName=name, ConsistentRead=True, Limit=37),
            "indexes": {i["IndexName"]: scanned(client, TableName=name, IndexName=i["IndexName"])
                        for i in described.get("GlobalSecondaryIndexes", []) + described.get("LocalSecondaryIndexes", [])},
        }
        if "LatestStreamArn" in described:
            stream = streams.describe_stream(StreamArn=described["LatestStreamArn"])["StreamDescription"]
            records = []
            for shard in stream["Shards"]:
                iterator = streams.get_shard_iterator(StreamArn=described["LatestStreamArn"], ShardId=shard["ShardId"],
                                                      ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                while iterator:
                    page = streams.get_records(ShardIterator=iterator, Limit=100)
                    if not page["Records"]:
                        break
                    records += [without_noise(r) for r in page["Records"]]
                    iterator = page.get("NextShardIterator")
            seen[name]["stream"] = records
    for status in ("open", "shipped", "lost"):
        seen[f"by_status {status}"] = client.query(
            TableName="orders", IndexName="by_status", KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": {"S": status}})["Items"]
    for p in range(0, 95, 7):
        seen[f"orders P{p}"] = client.query(TableName="orders", KeyConditionExpression="pk = :p",
                                            ExpressionAttributeValues={":p": {"S": f"P{p}"}})["Items"]
    return seen


def run(install_patch: bool, random_count: int):
    """Every step's (what, answer, item stores), and the final read-back."""
    with mock_aws():
        if install_patch and not moto_transaction_rollback.install():
            sys.exit("moto_transaction_rollback did not install: is moto the pinned version?")
        client = boto3.client("dynamodb", region_name=REGION)
        # botocore sends DynamoDB Streams calls to an account endpoint moto 5.2.5 does not mock.
        streams = boto3.client("dynamodbstreams", region_name=REGION,
                               endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com")
        arns = create_tables(client)
        rng = random.Random(7)
        fill(client, rng)
        transactions = fixed_transactions(rng, arns)
        transactions += [(f"random #{n}", random_transaction(rng, arns)) for n in range(random_count)]
        steps = []
        for what, transact_items in transactions:
            answer = attempt(client, transact_items)
            steps.append((what, answer, {name: store(name) for name in TABLES}))
        return steps, read_back(client, streams)


def first_difference(a, b, path="") -> str:
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                return f"{path}/{key}: only in {'patched' if key in b else 'shipped'}"
            if a[key] != b[key]:
                return first_difference(a[key], b[key], f"{path}/{key}")
    if isinstance(a, (list, tuple)):
        for n, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_difference(x, y, f"{path}[{n}]")
        if len(a) != len(b):
            return f"{path}: {len(a)} entries != {len(b)}"
    return f"{path}: {str(a)[:300]} != {str(b)[:300]}"


def main() -> None:
    if sys.argv[1:] == ["--time"]:
        return timing()
    random_count = 250
    shipped_steps, shipped_end = run(install_patch=False, random_count=random_count)
    patched_steps, patched_end = run(install_patch=True, random_count=random_count)
    for (what, *shipped), (_, *patched) in zip(shipped_steps, patched_steps):
        if shipped != patched:
            sys.exit(f"moto_transaction_rollback differs from moto after '{what}': "
                     f"{first_difference(shipped, patched)}")
    if shipped_end != patched_end:
        sys.exit(f"moto_transaction_rollback differs from moto when read back: "
                 f"{first_difference(shipped_end, patched_end)}")
    outcomes = {}
    for _, answer, _ in shipped_steps:
        outcome = answer[0] if answer[0] == "ok" else answer[1]["Code"]
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
    print(f"moto_transaction_rollback: {len(shipped_steps)} transactions ({summary}) "
          "answered and left identical with and without the patch")


def timing(rows=20_000, repeats=5):
    """Seconds per TransactWriteItems on a table of `rows` items, shipped then patched."""
    def one_table_of(client, name, count):
        client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=attributes(pk="S", sk="S", status="S"),
                            KeySchema=keys("pk", "sk"), GlobalSecondaryIndexes=[index("by_status", "status", "sk")])
        table = backend().tables[name]
        for n in range(count):  # straight into moto's store: 20,000 put_item calls would dominate
            table.put_item({"pk": {"S": f"shop{n % 50}"}, "sk": {"S": f"order{n:06}"}, "status": {"S": "open"},
                            "body": {"S": "x" * 200}, "n": {"N": str(n)}})

    def transaction(name, n, fail):
        return [put(name, {"pk": {"S": "shop1"}, "sk": {"S": f"label{n}"}, "status": {"S": "new"}}),
                update(name, {"pk": {"S": "shop2"}, "sk": {"S": "order000002"}}, "SET n = :n", {":n": {"N": str(n)}}),
                check(name, {"pk": {"S": "shop3"}, "sk": {"S": "order000003"}},
                      "attribute_not_exists(pk)" if fail else "attribute_exists(pk)")]

    def measure(client, name, label):
        for fail in (False, True):
            seconds = []
            for n in range(repeats):
                start = time.perf_counter()
                attempt(client, transaction(name, n, fail))
                seconds.append(time.perf_counter() - start)
            print(f"  {label:8} {name:6} {'cancelled' if fail else 'succeeds ':9}: "
                  f"median {statistics.median(seconds) * 1000:9.1f} ms, min {min(seconds) * 1000:9.1f} ms "
                  f"({repeats} runs of a 3-item transaction)")

    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        one_table_of(client, "big", rows)
        one_table_of(client, "small", 10)
        print(f"TransactWriteItems (Put, Update, ConditionCheck on one table; 'big' holds {rows} items):")
        measure(client, "big", "shipped")
        measure(client, "small", "shipped")
        if not moto_transaction_rollback.install():
            sys.exit("moto_transaction_rollback did not install")
        measure(client, "big", "patched")
        measure(client, "small", "patched")


if __name__ == "__main__":
    main()
