"""What the app says when it cannot start the usual way, and the ways out it offers:
a database that cannot be opened (back it up and start a fresh file, or choose another),
a receiver port already taken (use a free one, or open as a viewer only)."""

from __future__ import annotations

import socket
import time
from enum import Enum
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget


class DatabaseChoice(Enum):
    START_FRESH = "fresh"
    OTHER_FILE = "other"
    QUIT = "quit"


def backup_broken_database(path: Path) -> Path:
    """Move the file (and its WAL and shared-memory files) aside; return the backup's path.

    Nothing is deleted: the user can hand the backup to a recovery tool or to support.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.broken-{stamp}")
    path.rename(backup)
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.rename(backup.with_name(backup.name + suffix))
    return backup


def ask_about_database(
    path: Path | str, problem: str, parent: QWidget | None = None
) -> DatabaseChoice:
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle("Hindsight cannot open its history")
    box.setText(f"The history database could not be opened:\n{path}")
    box.setInformativeText(
        f"{problem}\n\nYou can move this file aside (it is kept as a backup next to it) and "
        "start with an empty history, or open another database file."
    )
    fresh = box.addButton("Back Up and Start Fresh", QMessageBox.ButtonRole.AcceptRole)
    if not isinstance(path, Path) or not path.exists():  # nothing to move aside for a URL
        fresh.setEnabled(False)
    other = box.addButton("Open Another File…", QMessageBox.ButtonRole.ActionRole)
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    clicked = box.clickedButton()
    if clicked is fresh:
        return DatabaseChoice.START_FRESH
    if clicked is other:
        return DatabaseChoice.OTHER_FILE
    return DatabaseChoice.QUIT


def choose_database_file(start: Path | str, parent: QWidget | None = None) -> Path | None:
    name, _ = QFileDialog.getSaveFileName(
        parent,
        "Open or create a history database",
        str(start) if isinstance(start, Path) else str(Path.home()),
        "SQLite database (*.db *.sqlite);;All files (*)",
        options=QFileDialog.Option.DontConfirmOverwrite,
    )
    return Path(name) if name else None


def free_port_near(port: int, host: str = "127.0.0.1", attempts: int = 50) -> int | None:
    """The first port after `port` that can be bound right now."""
    for candidate in range(port + 1, min(port + 1 + attempts, 65536)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return None


def ask_about_port(port: int, suggestion: int | None, parent: QWidget | None = None) -> int | None:
    """Return the port to use instead, or None to go on without receiving."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Port already in use")
    box.setText(f"Hindsight cannot receive reports on port {port}: another program uses it.")
    box.setInformativeText(
        "Another Hindsight may already be running. You can receive on another port (point "
        "your workflows' HINDSIGHT_URL at it) or just browse the history without receiving."
    )
    use = None
    if suggestion is not None:
        use = box.addButton(f"Use Port {suggestion}", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Browse Without Receiving", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    return suggestion if use is not None and box.clickedButton() is use else None
