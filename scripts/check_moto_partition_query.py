"""Checks that moto_partition_query changes how fast moto answers a Query, never what.

The same random tables are queried twice in-process, through boto3, first with moto as
shipped and then with the patch installed, and every answer (items, Count, ScannedCount,
LastEvaluatedKey of every page, or the error) must be identical. The tables cover both
shapes of moto's item store (with and without a sort key), string and number keys,
global indexes with and without a sort key, a local index and deleted items; the queries
are paged forwards and backwards, with sort-key conditions, filters, the legacy
KeyConditions form, number keys written differently ("7" and "7.0"), partitions that do
not exist and a key of a type no key can have. Run by `./dev test`; exits non-zero on any
difference.

Usage: python scripts/check_moto_partition_query.py
"""

import random
import sys

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

import moto_partition_query

REGION = "us-east-1"


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
    client.create_table(
        TableName="text_keys", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=attributes(pk="S", sk="S", group="S", rank="S"),
        KeySchema=keys("pk", "sk"),
        GlobalSecondaryIndexes=[index("by_group", "group", "rank")],
    )
    client.create_table(
        TableName="number_keys", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=attributes(pk="N", sk="N", local="S", group="S"),
        KeySchema=keys("pk", "sk"),
        LocalSecondaryIndexes=[index("by_local", "pk", "local")],
        GlobalSecondaryIndexes=[index("by_group", "group")],
    )
    client.create_table(
        TableName="no_sort_key", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=attributes(pk="N", group="S"),
        KeySchema=keys("pk"),
        GlobalSecondaryIndexes=[index("by_group", "group")],
    )


def fill(client, rng):
    for n in range(600):
        item = {"pk": {"S": f"P{rng.randrange(40)}"}, "sk": {"S": f"S{rng.randrange(30):03}"}, "n": {"N": str(n)}}
        if rng.random() < 0.5:
            item["group"] = {"S": f"G{rng.randrange(3)}"}
            item["rank"] = {"S": f"{rng.randrange(50):03}"}
        client.put_item(TableName="text_keys", Item=item)
    for n in range(300):
        item = {"pk": {"N": str(rng.randrange(20))}, "sk": {"N": str(rng.randrange(-50, 50))},
                "group": {"S": f"G{rng.randrange(3)}"}, "n": {"N": str(n)}}
        if rng.random() < 0.6:
            item["local"] = {"S": str(rng.randrange(5))}
        client.put_item(TableName="number_keys", Item=item)
        client.put_item(TableName="no_sort_key", Item={
            "pk": {"N": str(rng.randrange(30))}, "group": {"S": f"G{rng.randrange(3)}"}, "n": {"N": str(n)}})
    for p in range(0, 20, 3):
        client.delete_item(TableName="number_keys", Key={"pk": {"N": str(p)}, "sk": {"N": "0"}})


def paged(client, **request):
    """Every page of a Query, or the error it ends in."""
    pages = []
    while True:
        try:
            response = client.query(**request)
        except ClientError as error:
            pages.append(("error", error.response["Error"]))
            return pages
        last_key = response.get("LastEvaluatedKey")
        pages.append((response["Items"], response["Count"], response["ScannedCount"], last_key))
        if last_key is None:
            return pages
        request["ExclusiveStartKey"] = last_key


def queries(client):
    answers = []
    for forward in (True, False):
        # Two partitions past the last one written: Queries that find nothing.
        for p in range(42):
            key = {":p": {"S": f"P{p}"}}
            answers.append(paged(client, TableName="text_keys", KeyConditionExpression="pk = :p",
                                 ExpressionAttributeValues=key, ScanIndexForward=forward, Limit=7))
            answers.append(paged(client, TableName="text_keys",
                                 KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                                 ExpressionAttributeValues={**key, ":s": {"S": "S01"}}, ScanIndexForward=forward))
            answers.append(paged(client, TableName="text_keys",
                                 KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b", FilterExpression="n > :n",
                                 ExpressionAttributeValues={**key, ":a": {"S": "S005"}, ":b": {"S": "S020"},
                                                            ":n": {"N": "200"}},
                                 ScanIndexForward=forward, Limit=3))
        for p in range(32):
            number = {":p": {"N": f"{p}.0" if p % 2 else str(p)}}
            answers.append(paged(client, TableName="no_sort_key", KeyConditionExpression="pk = :p",
                                 ExpressionAttributeValues=number, ScanIndexForward=forward))
            answers.append(paged(client, TableName="number_keys", KeyConditionExpression="pk = :p AND sk > :s",
                                 ExpressionAttributeValues={**number, ":s": {"N": "-10"}},
                                 ScanIndexForward=forward, Limit=4))
            answers.append(paged(client, TableName="number_keys", ScanIndexForward=forward, Limit=5,
                                 KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": str(p)}]}}))
            answers.append(paged(client, TableName="number_keys", IndexName="by_local", KeyConditionExpression="pk = :p",
                                 ExpressionAttributeValues=number, ScanIndexForward=forward, Limit=3))
        for g in range(4):
            group = {":g": {"S": f"G{g}"}}
            answers.append(paged(client, TableName="text_keys", IndexName="by_group",
                                 KeyConditionExpression="#g = :g AND #r > :r",
                                 ExpressionAttributeNames={"#g": "group", "#r": "rank"},
                                 ExpressionAttributeValues={**group, ":r": {"S": "010"}},
                                 ScanIndexForward=forward, Limit=9))
            for table in ("number_keys", "no_sort_key"):
                answers.append(paged(client, TableName=table, IndexName="by_group", KeyConditionExpression="#g = :g",
                                     ExpressionAttributeNames={"#g": "group"}, ExpressionAttributeValues=group,
                                     ScanIndexForward=forward, Limit=6))
        answers.append(paged(client, TableName="text_keys", KeyConditionExpression="pk = :p",
                             ExpressionAttributeValues={":p": {"L": [{"S": "P1"}]}}, ScanIndexForward=forward))
    for table in ("text_keys", "number_keys", "no_sort_key"):
        answers.append(client.scan(TableName=table)["Items"])
    return answers


def partition_counts():
    """How many partitions moto holds per table: a Query must never add one."""
    tables = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables
    return {name: len(table.items) for name, table in tables.items()}


def every_answer(install_patch: bool) -> list:
    with mock_aws():
        if install_patch and not moto_partition_query.install():
            sys.exit("moto_partition_query did not install: is moto the pinned version?")
        client = boto3.client("dynamodb", region_name=REGION)
        create_tables(client)
        fill(client, random.Random(1))
        partitions_before = partition_counts()
        answers = queries(client)
        if partition_counts() != partitions_before:
            sys.exit(f"a Query added partitions: {partitions_before} -> {partition_counts()}")
        return answers


def main() -> None:
    shipped = every_answer(install_patch=False)
    patched = every_answer(install_patch=True)
    if shipped != patched:
        differing = sum(1 for a, b in zip(shipped, patched) if a != b)
        sys.exit(f"moto_partition_query changed {differing} of {len(shipped)} answers")
    print(f"moto_partition_query: {len(shipped)} answers identical with and without the patch")


if __name__ == "__main__":
    main()
