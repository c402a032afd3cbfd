"""peewee models, all bound through one DatabaseProxy that `open_database` initialises.

Listing columns and payloads live in separate tables: the run list and the node table read
only the small rows, and a node's input/output/stack is read when that node is inspected.
Payload columns are packed (compressed above a threshold, see `packed.py`); a node's payload
fields are packed together into one value.
"""

from __future__ import annotations

from peewee import (
    AutoField,
    BigIntegerField,
    CharField,
    CompositeKey,
    DatabaseProxy,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from app.store.packed import NodePayloadField, PackedTextField

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
    workflow_version = CharField(null=True)
    project_id = CharField(max_length=200, null=True)
    user_id = CharField(max_length=200, null=True)
    status = CharField(max_length=20)
    started_at = BigIntegerField()  # epoch ms, UTC
    completed_at = BigIntegerField(null=True)
    duration_ms = BigIntegerField(null=True)
    trigger_type = CharField(null=True)
    error_message = TextField(null=True)
    error_node_id = CharField(null=True)
    exit_code = IntegerField(null=True)
    # Derived from the nodes at write time so the run list never joins or aggregates.
    node_count = IntegerField(default=0)
    failed_node_name = CharField(null=True)
    total_tokens = BigIntegerField(null=True)
    cost_usd = FloatField(null=True)
    received_at = BigIntegerField()  # when the latest report for this run was stored

    class Meta:
        indexes = (
            (("started_at", "id"), False),  # keyset pagination, newest first
            (("status", "started_at"), False),  # a status filter's first page, in order
            (("duration_ms", "id"), False),  # keyset pagination, slowest first
            (("workflow_id", "started_at"), False),
            (("workflow_id", "duration_ms"), False),  # duration percentiles per workflow
            (("project_id", "started_at"), False),
            # A picker plus one status (a workflow's failed runs): without these the page
            # walks every run of the status or of the picked value, 50 ms+ when few match.
            (("workflow_id", "status", "started_at"), False),
            (("project_id", "status", "started_at"), False),
            (("user_id", "started_at"), False),
            (("status", "received_at"), False),  # finding stale running runs
        )


class RunPayload(BaseModel):
    run = ForeignKeyField(Run, primary_key=True, on_delete="CASCADE")
    trigger_json = PackedTextField(null=True)
    error_stack = PackedTextField(null=True)
    params_json = PackedTextField(null=True)
    output_json = PackedTextField(null=True)
    metadata_json = PackedTextField(null=True)


class RunStatusChange(BaseModel):
    """Status changes Hindsight made itself (a stale `running` run becoming `interrupted`),
    so the status the workflow last reported is never silently lost."""

    id = AutoField()
    run = ForeignKeyField(Run, on_delete="CASCADE")
    at = BigIntegerField()
    from_status = CharField(max_length=20)
    to_status = CharField(max_length=20)
    reason = TextField()


class RunTag(BaseModel):
    """Tags are rows, not JSON, so "tag env=prod" is an index lookup."""

    run = ForeignKeyField(Run, on_delete="CASCADE", index=False)  # the primary key leads
    key = CharField(max_length=200)
    value = CharField(max_length=500)

    class Meta:
        primary_key = CompositeKey("run", "key")
        indexes = ((("key", "value"), False),)


class NodeExecution(BaseModel):
    id = AutoField()
    # No index of its own: (run, node_id, attempt) leads with it. Each index costs bytes per
    # node, so there is no (run, position) index either: a run's few nodes are sorted after
    # the run's entries of that index are read.
    run = ForeignKeyField(Run, on_delete="CASCADE", index=False)
    position = IntegerField()  # order in the report
    node_id = CharField(max_length=200)
    node_name = CharField(default="")
    node_type = CharField(default="")
    status = CharField(max_length=20)
    started_at = BigIntegerField(null=True)
    completed_at = BigIntegerField(null=True)
    duration_ms = BigIntegerField(null=True)
    error_message = TextField(null=True)
    attempt = IntegerField(default=1)  # retries of the same node in one run count up
    exec_group = IntegerField(null=True)  # parallel stage / execution group
    llm_model = CharField(null=True)
    prompt_tokens = BigIntegerField(null=True)
    completion_tokens = BigIntegerField(null=True)
    total_tokens = BigIntegerField(null=True)
    cost_usd = FloatField(null=True)
    finish_reason = CharField(null=True)

    class Meta:
        indexes = ((("run", "node_id", "attempt"), True),)


class NodePayload(BaseModel):
    node = ForeignKeyField(NodeExecution, primary_key=True, on_delete="CASCADE")
    # Input, output, stack, metrics, LLM prompt and response as one `records.NodePayload`;
    # in it None means the report did not carry the field (JSON null is the text "null").
    payload = NodePayloadField()


class LogEntry(BaseModel):
    id = AutoField()
    run = ForeignKeyField(Run, on_delete="CASCADE", index=False)  # (run, sequence) leads
    node_id = CharField(max_length=200, null=True)
    sequence = IntegerField()
    timestamp = BigIntegerField(null=True)
    level = CharField(max_length=10)
    message = TextField()

    class Meta:
        indexes = ((("run", "sequence"), False),)


class LogPayload(BaseModel):
    log = ForeignKeyField(LogEntry, primary_key=True, on_delete="CASCADE")
    data_json = PackedTextField()


class Artifact(BaseModel):
    id = AutoField()
    run = ForeignKeyField(Run, on_delete="CASCADE")
    node_id = CharField(max_length=200, null=True)
    key = CharField(max_length=200)
    type = CharField(max_length=50, default="artifact")
    size = BigIntegerField()  # bytes of the stored JSON data

    class Meta:
        indexes = ((("run", "key"), True),)


class ArtifactPayload(BaseModel):
    artifact = ForeignKeyField(Artifact, primary_key=True, on_delete="CASCADE")
    data_json = PackedTextField()


ALL_MODELS: tuple[type[BaseModel], ...] = (
    SchemaInfo,
    Run,
    RunPayload,
    RunTag,
    RunStatusChange,
    NodeExecution,
    NodePayload,
    LogEntry,
    LogPayload,
    Artifact,
    ArtifactPayload,
)
