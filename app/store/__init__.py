"""Persistent run history: peewee models, connection, schema migrations, queries and writes.

Qt-free, so the headless receiver, the CLI and the GUI share it.
"""
