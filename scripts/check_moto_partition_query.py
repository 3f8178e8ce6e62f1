"""Checks that moto_partition_query changes how fast moto answers a Query, never what.

The same random table is queried twice in-process, through boto3, first with moto as
shipped and then with the patch installed: partition queries paged forwards and
backwards, sort-key conditions, filters, index queries paged, and a Scan. Every page must
be identical. Run by `./dev test`; exits non-zero on any difference.

Usage: python scripts/check_moto_partition_query.py
"""

import random
import sys

import boto3
from moto import mock_aws

import moto_partition_query

PARTITIONS = 40
ITEMS = 600
INDEX = "by_group"


def paged(client, **request):
    pages = []
    while True:
        response = client.query(**request)
        pages.append(response["Items"])
        if "LastEvaluatedKey" not in response:
            return pages
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def every_answer(install_patch: bool) -> list:
    with mock_aws():
        if install_patch and not moto_partition_query.install():
            sys.exit("moto_partition_query did not install: is moto the pinned version?")
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="check",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "group", "rank")
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": INDEX,
                    "KeySchema": [
                        {"AttributeName": "group", "KeyType": "HASH"},
                        {"AttributeName": "rank", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        rng = random.Random(1)
        for n in range(ITEMS):
            item = {
                "pk": {"S": f"P{rng.randrange(PARTITIONS)}"},
                "sk": {"S": f"S{rng.randrange(30):03}"},
                "n": {"N": str(n)},
            }
            if rng.random() < 0.5:
                item["group"] = {"S": f"G{rng.randrange(3)}"}
                item["rank"] = {"S": f"{rng.randrange(50):03}"}
            client.put_item(TableName="check", Item=item)

        answers = []
        # Two partitions past the last one written: a Query that finds nothing.
        for p in range(PARTITIONS + 2):
            key = {":p": {"S": f"P{p}"}}
            for forward in (True, False):
                answers.append(
                    paged(client, TableName="check", KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues=key, ScanIndexForward=forward, Limit=7)
                )
                answers.append(
                    paged(client, TableName="check",
                          KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                          ExpressionAttributeValues={**key, ":s": {"S": "S01"}},
                          ScanIndexForward=forward)
                )
                answers.append(
                    paged(client, TableName="check",
                          KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                          FilterExpression="n > :n",
                          ExpressionAttributeValues={**key, ":a": {"S": "S005"}, ":b": {"S": "S020"},
                                                     ":n": {"N": "200"}},
                          ScanIndexForward=forward, Limit=3)
                )
        for g in range(4):
            answers.append(
                paged(client, TableName="check", IndexName=INDEX,
                      KeyConditionExpression="#g = :g AND #r > :r",
                      ExpressionAttributeNames={"#g": "group", "#r": "rank"},
                      ExpressionAttributeValues={":g": {"S": f"G{g}"}, ":r": {"S": "010"}}, Limit=9)
            )
        answers.append(client.scan(TableName="check")["Items"])
        # A Query for a missing partition must not have created one.
        answers.append(client.describe_table(TableName="check")["Table"]["ItemCount"])
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
