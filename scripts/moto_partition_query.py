"""Make moto's DynamoDB Query read one partition, as DynamoDB does.

moto 5.2 answers every Query by building a list of all the table's items, sorting it,
and only then keeping the items of the partition (or index partition) asked for. A Query
therefore costs O(n log n) in the size of the whole table, so anything that issues one
Query per order (the nightly run, the carrier feed) becomes quadratic on the local stack
and the benchmarks measured moto rather than the functions.

The patch changes where the candidate items come from, never which items are returned:

  * a Query on the table's own key starts from that partition's items only (moto keeps
    items in a dict keyed by partition key, so this is a dict lookup); moto still checks
    the partition key of each candidate and sorts them by sort key itself;
  * a Query on an index still visits every item (an index partition is not stored
    anywhere), but skips the whole-table sort that moto redoes on the matches afterwards.

An index Query therefore still grows with the table locally (it no longer sorts it); only
the request counts, not the local timings, show that an index read is bounded in DynamoDB.

Everything else (Scan, exports, PartiQL, and any other thread) still gets moto's sorted
list: the hint lives in a thread-local naming the table and is cleared however the query
ends. A partition key that is not a plain string, number or binary value (which DynamoDB
rejects anyway) takes moto's own path, so even such a request is answered as moto would.
The patch is applied only to the moto version it was written against; any other version
runs unpatched, just slower.
"""

import inspect
import sys
import threading

PATCHED_MOTO_VERSION = "5.2.5"


def install() -> bool:
    import moto
    from moto.dynamodb.models.table import Table

    if moto.__version__ != PATCHED_MOTO_VERSION:
        print(
            f"moto {moto.__version__} is not {PATCHED_MOTO_VERSION}: Query left unpatched",
            file=sys.stderr,
        )
        return False

    moto_query = Table.query
    moto_all_items = Table.all_items
    query_signature = inspect.signature(moto_query)

    def all_items(self):
        hint = getattr(QUERY_HINT, "hint", None)
        if hint is None or hint[0] is not self:
            return moto_all_items(self)
        candidates = hint[1]
        if candidates is ALL_UNSORTED:
            if self.range_key_attr:
                return [item for partition in self.items.values() for item in partition.values()]
            return list(self.items.values())
        # `get`, not indexing: `items` is a defaultdict and a miss must not add a partition.
        partition = self.items.get(candidates)
        if partition is None:
            return []
        return list(partition.values()) if self.range_key_attr else [partition]

    def query(self, *args, **kwargs):
        arguments = query_signature.bind(self, *args, **kwargs).arguments
        hash_key = arguments.get("hash_key")
        if arguments.get("index_name"):
            QUERY_HINT.hint = (self, ALL_UNSORTED)
        elif hash_key is not None and getattr(hash_key, "type", None) in KEY_TYPES:
            QUERY_HINT.hint = (self, hash_key)
        try:
            return moto_query(self, *args, **kwargs)
        finally:
            QUERY_HINT.hint = None

    Table.all_items = all_items
    Table.query = query
    return True


ALL_UNSORTED = object()
KEY_TYPES = ("S", "N", "B")
QUERY_HINT = threading.local()
