"""peewee models, all bound through one DatabaseProxy that `open_database` initialises.

Listing columns and payloads live in separate tables: the run list and the node table read
only the small rows, and a node's input/output/stack is read when that node is inspected.
"""

from __future__ import annotations

from peewee import (
    AutoField,
    BigIntegerField,
    CharField,
    DatabaseProxy,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

db = DatabaseProxy()


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class SchemaInfo(BaseModel):
    """Key/value facts about the database itself; `schema_version` is the one that matters."""

    key = CharField(primary_key=True)
    value = TextField()

    class Meta:
        table_name = "hindsight_schema"


class Run(BaseModel):
    id = CharField(primary_key=True, max_length=200)
    workflow_id = CharField(max_length=200)
    workflow_name = CharField(default="")
    status = CharField(max_length=20, index=True)
    started_at = BigIntegerField()  # epoch ms, UTC
    completed_at = BigIntegerField(null=True)
    duration_ms = BigIntegerField(null=True)
    trigger_type = CharField(null=True)
    error_message = TextField(null=True)
    error_node_id = CharField(null=True)
    # Derived from the nodes at write time so the run list never joins or aggregates.
    node_count = IntegerField(default=0)
    failed_node_name = CharField(null=True)
    received_at = BigIntegerField()  # when the latest report for this run was stored

    class Meta:
        indexes = (
            (("started_at", "id"), False),  # keyset pagination, newest first
            (("workflow_id", "started_at"), False),
        )


class RunPayload(BaseModel):
    run = ForeignKeyField(Run, primary_key=True, on_delete="CASCADE")
    trigger_json = TextField(null=True)
    error_stack = TextField(null=True)


class NodeExecution(BaseModel):
    id = AutoField()
    run = ForeignKeyField(Run, on_delete="CASCADE")
    position = IntegerField()  # order in the report
    node_id = CharField(max_length=200)
    node_name = CharField(default="")
    node_type = CharField(default="")
    status = CharField(max_length=20)
    started_at = BigIntegerField(null=True)
    completed_at = BigIntegerField(null=True)
    duration_ms = BigIntegerField(null=True)
    error_message = TextField(null=True)

    class Meta:
        indexes = ((("run", "position"), True),)


class NodePayload(BaseModel):
    node = ForeignKeyField(NodeExecution, primary_key=True, on_delete="CASCADE")
    # JSON text; NULL means the report did not carry the field (JSON null is the text "null").
    input_json = TextField(null=True)
    output_json = TextField(null=True)
    error_stack = TextField(null=True)


ALL_MODELS: tuple[type[BaseModel], ...] = (SchemaInfo, Run, RunPayload, NodeExecution, NodePayload)
