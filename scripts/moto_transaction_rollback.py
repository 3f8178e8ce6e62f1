"""Make moto's DynamoDB TransactWriteItems back up only the items it touches.

moto 5.2 starts every TransactWriteItems by deep-copying each table the transaction
names, items and stream records included, once per operation naming it (three writes to
one table copy it three times), so that a cancelled transaction can put the copies back
in place of the tables. The cost grows with the tables, not with the transaction: on a
table of 20,000 items a single Put takes seconds, and the functions use a transaction
for every label upload and nightly decision.

The patch changes what the backup holds, never what moto does with it. moto's own
transact_write_items still runs unchanged: it checks, writes, cancels and rolls back as
shipped, so answers and cancellation reasons are moto's. What it gets when it asks for a
copy of a table is instead a record of the table's slots that the transaction names:

  * for every Put, Update, Delete and ConditionCheck on the table (by name or by ARN),
    the item under its key, deep-copied, or the fact that there was none; on a table
    with a sort key, also whether the key's partition existed (moto's read of a missing
    partition adds an empty one to its store, and its rollback takes it away again);
  * when a Delete names an existing item, a shallow copy of the dict holding it (the
    table's dict, or the partition's): moto keeps items in insertion-ordered dicts, an
    item put back after a delete would otherwise move to the end, and a Scan on an index
    returns items with equal index keys in that order;
  * how many records the table's stream held: a cancelled write leaves none.

When moto rolls back it assigns each backup in its table's place, as it would a copy; the
patch then puts the table itself back and restores exactly those slots (item or absence,
empty partition, order, stream length). Whatever moto derives from items (ItemCount,
index Queries and Scans) follows. moto rolls back only some failures (a cancellation, or
a validation error raised part-way); the patch restores exactly when moto assigned the
backup, so what moto leaves written (items before an element holding two operations,
items in a table the transaction names only by its ARN) stays written here too.

What is deliberately not the same: moto's rollback leaves the tables as new objects
(with new stream shards, and copies of any Lambda event source mappings); the patch
keeps the original ones. No DynamoDB answer tells the two apart, except through a shard
iterator taken before a cancelled transaction: with moto it goes on reading the orphaned
shard, which keeps the cancelled writes' records and never sees a later one; with the
patch it reads the table's stream. A table with a Lambda event source mapping, an
operation whose key cannot be read the way moto reads it, or a request that cannot be
planned at all falls back to moto's own deep copy of that table (or of every table), so
such requests are answered and rolled back as moto would, just slowly.

How: moto's module `moto.dynamodb.models` gets, in place of its `copy` module, an object
that forwards everything to `copy` except the deep copy of a table that the current
thread's transaction has planned a backup for. The patch is applied only to the moto
version it was written against; any other version runs unpatched, just slower.
"""

import copy
import sys
import threading

PATCHED_MOTO_VERSION = "5.2.5"
OPERATIONS = ("ConditionCheck", "Put", "Delete", "Update")


def install() -> bool:
    import moto

    if moto.__version__ != PATCHED_MOTO_VERSION:
        print(
            f"moto {moto.__version__} is not {PATCHED_MOTO_VERSION}: TransactWriteItems left unpatched",
            file=sys.stderr,
        )
        return False

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType

    backend_class = models.DynamoDBBackend
    moto_transact = backend_class.transact_write_items
    if getattr(moto_transact, "touched_items_rollback", False):
        return True
    if models.copy is not copy:
        print("moto.dynamodb.models.copy is not the copy module: TransactWriteItems left unpatched",
              file=sys.stderr)
        return False

    def transact_write_items(self, transact_items):
        try:
            plans = plan_backups(self, transact_items, DynamoType)
        except Exception:
            # A request moto will reject or trip over in its own way: let it copy.
            plans = {}
        PLANS.plans = plans
        try:
            return moto_transact(self, transact_items)
        finally:
            PLANS.plans = None
            # moto rolled a table back iff it assigned the backup in the table's place.
            backups = {id(plan.backup) for plan in plans.values() if plan.backup is not None}
            if backups:
                for name, table in list(self.tables.items()):
                    if id(table) in backups:
                        self.tables[name] = table.table
                        table.restore()

    transact_write_items.touched_items_rollback = True
    transact_write_items.__doc__ = moto_transact.__doc__
    models.copy = CopyForTransactions()
    backend_class.transact_write_items = transact_write_items
    return True


class CopyForTransactions:
    """Stands in for the `copy` module inside moto.dynamodb.models."""

    def __getattr__(self, name):
        return getattr(copy, name)

    def deepcopy(self, x, memo=None, *args):
        plans = getattr(PLANS, "plans", None)
        if plans and memo is None and not args:
            plan = plans.get(id(x))
            if plan is not None and plan.table is x:
                if plan.backup is None:
                    plan.backup = TouchedSlots(plan)
                return plan.backup
        return copy.deepcopy(x, memo, *args)


class Plan:
    """The slots of one table that a transaction's operations name."""

    def __init__(self, table):
        self.table = table
        self.keys = []  # (hash DynamoType, range DynamoType or None, deletes)
        self.backup = None


def plan_backups(backend, transact_items, dynamo_type):
    """id(table) -> Plan for every table a backup can be narrowed for."""
    plans = {}
    fallback = set()
    for element in transact_items:
        if len(list(element.keys())) > 1:
            continue  # moto raises on reaching it, before running either operation
        op_type, op = next(iter(element.items()))
        if op_type not in OPERATIONS:
            continue  # moto records an error for it and writes nothing
        try:
            table = backend.get_table(op["TableName"])
        except Exception:
            continue  # moto fails the operation on this same lookup, before any write
        if id(table) in fallback:
            continue
        if table.lambda_event_source_mappings:
            fallback.add(id(table))
            continue
        try:
            # moto reads the key exactly so: from the item for a Put, else from Key.
            source = op["Item"] if op_type == "Put" else op["Key"]
            hash_key = dynamo_type(source[table.hash_key_attr])
            hash(hash_key)
            range_key = None
            if table.range_key_attr is not None:
                range_key = dynamo_type(source[table.range_key_attr])
                hash(range_key)
        except Exception:
            fallback.add(id(table))
            continue
        plan = plans.get(id(table))
        if plan is None:
            plan = plans[id(table)] = Plan(table)
        plan.keys.append((hash_key, range_key, op_type == "Delete"))
    for table_id in fallback:
        plans.pop(table_id, None)
    return plans


ABSENT = object()


class Slots:
    """The touched keys of one dict of moto's item store (the table's, or a partition's)."""

    def __init__(self, store):
        self.store = store
        self.saved = {}  # key -> copy of its item, or ABSENT
        self.whole = None  # a shallow copy of the dict, if a Delete may reorder it

    def save(self, key, deletes):
        if key not in self.saved:
            # `get`, never indexing: the store may be a defaultdict.
            item = self.store.get(key, ABSENT)
            self.saved[key] = ABSENT if item is ABSENT else copy.deepcopy(item)
        if deletes and self.whole is None and self.saved[key] is not ABSENT:
            # References only; dict-to-dict copies reuse the stored hashes, so neither
            # this nor the restore calls moto's (slow) key hashing per item.
            self.whole = dict(self.store)

    def restore(self):
        store = self.store
        if self.whole is not None:
            # The dict as it was: its keys (the original key objects) in their order,
            # untouched items as they are (the transaction wrote none of them), copies
            # for the touched ones; keys the transaction added go.
            whole = self.whole
            for key, item in self.saved.items():
                if item is not ABSENT:
                    whole[key] = item
            store.clear()
            store.update(whole)
            return
        for key, item in self.saved.items():
            if item is ABSENT:
                store.pop(key, None)
            else:
                store[key] = item


class TouchedSlots:
    """What moto gets instead of a deep copy of a table."""

    def __init__(self, plan):
        table = self.table = plan.table
        items = table.items
        self.shard = table.stream_shard
        self.records = self.shard.items if self.shard is not None else None
        self.record_count = len(self.records) if self.records is not None else 0
        if table.range_key_attr is None:
            self.slots = Slots(items)
            for hash_key, _, deletes in plan.keys:
                self.slots.save(hash_key, deletes)
            return
        # A sort key: items[hash][range]. Partitions absent now are dropped on restore.
        self.partitions = {}  # hash -> (partition dict, Slots) or ABSENT
        for hash_key, range_key, deletes in plan.keys:
            if hash_key not in self.partitions:
                self.partitions[hash_key] = (
                    (items[hash_key], Slots(items[hash_key])) if hash_key in items else ABSENT
                )
            saved = self.partitions[hash_key]
            if saved is not ABSENT:
                saved[1].save(range_key, deletes)

    def restore(self):
        table = self.table
        if table.range_key_attr is None:
            self.slots.restore()
        else:
            items = table.items
            for hash_key, saved in self.partitions.items():
                if saved is ABSENT:
                    items.pop(hash_key, None)
                    continue
                partition, slots = saved
                if items.get(hash_key) is not partition:
                    items[hash_key] = partition  # moto never replaces one; just in case
                slots.restore()
        table.stream_shard = self.shard
        if self.shard is not None:
            self.shard.items = self.records
            del self.records[self.record_count:]


PLANS = threading.local()
