"""Schema 2: the data of every seed system (projects, users, params, tags, LLM calls, logs,
artifacts) on top of the walking skeleton's runs and nodes."""

from __future__ import annotations

from peewee import (
    AutoField,
    BigIntegerField,
    CharField,
    CompositeKey,
    Database,
    Field,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)
from playhouse.migrate import SchemaMigrator, migrate

_NEW_COLUMNS: dict[str, list[tuple[str, Field]]] = {
    "run": [
        ("workflow_version", CharField(null=True)),
        ("project_id", CharField(max_length=200, null=True)),
        ("user_id", CharField(max_length=200, null=True)),
        ("exit_code", IntegerField(null=True)),
        ("total_tokens", BigIntegerField(null=True)),
        ("cost_usd", FloatField(null=True)),
    ],
    "run_payload": [
        ("params_json", TextField(null=True)),
        ("output_json", TextField(null=True)),
        ("metadata_json", TextField(null=True)),
    ],
    "node_execution": [
        ("attempt", IntegerField(default=1)),
        ("exec_group", IntegerField(null=True)),
        ("llm_model", CharField(null=True)),
        ("prompt_tokens", BigIntegerField(null=True)),
        ("completion_tokens", BigIntegerField(null=True)),
        ("total_tokens", BigIntegerField(null=True)),
        ("cost_usd", FloatField(null=True)),
        ("finish_reason", CharField(null=True)),
    ],
    "node_payload": [
        ("metrics_json", TextField(null=True)),
        ("llm_prompt_json", TextField(null=True)),
        ("llm_response_json", TextField(null=True)),
    ],
}


_CREATE_SEARCH_TABLE = (
    "CREATE VIRTUAL TABLE search_index USING fts5(run_id UNINDEXED, node_id UNINDEXED, "
    "field UNINDEXED, content, tokenize = 'unicode61 remove_diacritics 2')"
)


def _new_tables(database: Database) -> list[type[Model]]:
    class Base(Model):
        class Meta:
            legacy_table_names = False

    class Run(Base):
        id = CharField(primary_key=True, max_length=200)

    class RunTag(Base):
        run = ForeignKeyField(Run, on_delete="CASCADE")
        key = CharField(max_length=200)
        value = CharField(max_length=500)

        class Meta:
            primary_key = CompositeKey("run", "key")
            indexes = ((("key", "value"), False),)

    class RunStatusChange(Base):
        id = AutoField()
        run = ForeignKeyField(Run, on_delete="CASCADE")
        at = BigIntegerField()
        from_status = CharField(max_length=20)
        to_status = CharField(max_length=20)
        reason = TextField()

    class LogEntry(Base):
        id = AutoField()
        run = ForeignKeyField(Run, on_delete="CASCADE")
        node_id = CharField(max_length=200, null=True)
        sequence = IntegerField()
        timestamp = BigIntegerField(null=True)
        level = CharField(max_length=10)
        message = TextField()

        class Meta:
            indexes = ((("run", "sequence"), False),)

    class LogPayload(Base):
        log = ForeignKeyField(LogEntry, primary_key=True, on_delete="CASCADE")
        data_json = TextField()

    class Artifact(Base):
        id = AutoField()
        run = ForeignKeyField(Run, on_delete="CASCADE")
        node_id = CharField(max_length=200, null=True)
        key = CharField(max_length=200)
        type = CharField(max_length=50, default="artifact")
        size = BigIntegerField()

        class Meta:
            indexes = ((("run", "key"), True),)

    class ArtifactPayload(Base):
        artifact = ForeignKeyField(Artifact, primary_key=True, on_delete="CASCADE")
        data_json = TextField()

    tables: list[type[Model]] = [
        RunTag,
        RunStatusChange,
        LogEntry,
        LogPayload,
        Artifact,
        ArtifactPayload,
    ]
    for table in tables:
        table.bind(database, bind_refs=False, bind_backrefs=False)
    return tables


def upgrade(database: Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(
        *(
            migrator.add_column(table, name, field)
            for table, columns in _NEW_COLUMNS.items()
            for name, field in columns
        )
    )
    # The skeleton allowed a node id to repeat in one run (loops); number those repeats as
    # attempts so that (run, node_id, attempt) can be unique from now on.
    database.execute_sql(
        "UPDATE node_execution SET attempt = (SELECT COUNT(*) FROM node_execution AS e "
        "WHERE e.run_id = node_execution.run_id AND e.node_id = node_execution.node_id "
        "AND e.position <= node_execution.position)"
    )
    migrate(
        migrator.add_index("run", ("project_id", "started_at"), False),
        migrator.add_index("run", ("user_id", "started_at"), False),
        migrator.add_index("run", ("status", "received_at"), False),
        migrator.add_index("node_execution", ("run_id", "node_id", "attempt"), True),
    )
    database.create_tables(_new_tables(database))
    database.execute_sql(_CREATE_SEARCH_TABLE)
    for field, code, column in (
        ("input", 0, "np.input_json"),
        ("output", 1, "np.output_json"),
        ("error", 2, "ne.error_message"),
        ("stack", 3, "np.error_stack"),
    ):
        database.execute_sql(
            "INSERT INTO search_index (rowid, run_id, node_id, field, content) "
            f"SELECT ne.id * 8 + {code}, ne.run_id, ne.node_id, '{field}', {column} "
            "FROM node_execution AS ne JOIN node_payload AS np ON np.node_id = ne.id "
            f"WHERE {column} IS NOT NULL AND {column} != ''"
        )
