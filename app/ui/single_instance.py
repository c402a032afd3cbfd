"""One Hindsight per user and database: a second start hands over to the first and exits.

A QLockFile keyed by the database says who owns it. Qt removes a lock whose process is gone
(the PID in the file is checked), so a crash or `kill -9` never blocks the next start. The
owner also listens on a QLocalServer with the same key; a second start connects, asks it to
raise its window, waits for the answer and exits 0, so no second receiver is ever started on
the same database.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Qt, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QWidget

from app.config import user_data_dir

log = logging.getLogger(__name__)

RAISE_REQUEST = b"raise\n"
RAISED_REPLY = b"raised "  # followed by the owner's process id and a newline
LOCK_WAIT_MS = 200  # a previous instance that is just closing may still hold the lock
HAND_OVER_TIMEOUT_S = 5.0  # the owner may be between taking the lock and listening


@dataclass(frozen=True)
class HandOver:
    delivered: bool  # the owner has (or will read) the request
    owner_pid: int | None  # set once the owner answered that it raised its window


class InstanceError(RuntimeError):
    """The lock file cannot be created (a folder that is not writable, for example)."""


def instance_key(db_path: Path | str) -> str:
    """The same for every start on one database by one user, and different otherwise."""
    canonical = os.path.normcase(str(Path(db_path).expanduser().resolve()))
    return hashlib.sha256(f"{getpass.getuser()}\0{canonical}".encode()).hexdigest()[:20]


class SingleInstance(QObject):
    """Owns the lock for one database, or hands over to the process that owns it."""

    activation_requested = Signal()

    def __init__(self, db_path: Path | str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        key = instance_key(db_path)
        self.server_name = f"hindsight-{key}"
        self.lock_path = user_data_dir() / "locks" / f"{key}.lock"
        self._lock = QLockFile(str(self.lock_path))
        # 0: never treat a live owner's lock as stale by age (the app runs for days); a lock
        # whose process has died is still detected through its PID.
        self._lock.setStaleLockTime(0)
        self._server: QLocalServer | None = None

    def acquire(self) -> bool:
        """True: this process now owns the database; False: another live process does."""
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InstanceError(f"cannot create {self.lock_path.parent}: {exc.strerror}") from exc
        if not self._lock.tryLock(LOCK_WAIT_MS):
            if self._lock.error() == QLockFile.LockError.LockFailedError:
                return False
            raise InstanceError(f"cannot create the lock file {self.lock_path}")
        self._listen()
        return True

    def owner_pid(self) -> int | None:
        pid, _host, _app = self._lock.getLockInfo()
        return pid or None

    def _listen(self) -> None:
        # A killed owner leaves its socket file behind on Unix; we own the lock, so it is stale.
        QLocalServer.removeServer(self.server_name)
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.server_name):
            # Still the only instance (the lock says so); later starts just cannot raise us.
            log.warning("cannot listen for other starts: %s", server.errorString())
            return
        server.newConnection.connect(self._on_new_connection)
        self._server = server

    def _on_new_connection(self) -> None:
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            # The socket stays a child of the server and goes with it: deleteLater() here can
            # crash PySide if the server is destroyed before the deferred delete runs, and
            # one small object per later start is nothing to save.
            socket.readyRead.connect(lambda s=socket: self._on_request(s))

    def _on_request(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        request = bytes(socket.readLine().data())
        if request == RAISE_REQUEST:
            self.activation_requested.emit()
            socket.write(RAISED_REPLY + f"{os.getpid()}\n".encode())
            socket.flush()
        socket.disconnectFromServer()

    def hand_over(self, timeout_s: float = HAND_OVER_TIMEOUT_S) -> HandOver:
        """Ask the owner to raise its window. Blocking is fine here: this process has no
        window yet and exits right after."""
        deadline = time.monotonic() + timeout_s
        while True:
            socket = QLocalSocket()
            socket.connectToServer(self.server_name)
            if socket.waitForConnected(500) and socket.write(RAISE_REQUEST) > 0:
                socket.waitForBytesWritten(1000)
                reply = b""
                wait_ms = max(100, int((deadline - time.monotonic()) * 1000))
                while not reply.endswith(b"\n") and socket.waitForReadyRead(wait_ms):
                    reply += bytes(socket.readAll().data())
                # Closing is fine even unanswered: the request waits in the socket until the
                # owner (busy opening or upgrading its database) reads it and raises then.
                socket.disconnectFromServer()
                pid = reply.removeprefix(RAISED_REPLY).strip()
                return HandOver(True, int(pid) if pid.isdigit() else None)
            if time.monotonic() >= deadline:
                return HandOver(False, None)
            time.sleep(0.1)  # it has the lock but is not listening yet: it is starting

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._lock.unlock()


def bring_to_front(window: QWidget) -> None:
    """Show, un-minimise, raise and focus a window (as far as the window manager allows)."""
    if window.windowState() & Qt.WindowState.WindowMinimized:
        window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()
    if sys.platform == "win32":  # Windows may refuse focus to a background process: flash
        QApplication.alert(window)
