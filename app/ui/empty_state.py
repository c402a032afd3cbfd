"""What an empty history shows: where reports go, how to send one, and a demo to try."""

from __future__ import annotations

from PySide6.QtCore import QProcess, QProcessEnvironment, Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.config import DEFAULT_HOST, DEFAULT_PORT
from app.examples import curl_example, python_example
from app.launcher import hindsight_command
from app.resources import resource_path
from app.ui.node_inspector import plain_label

FALLBACK_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
STDERR_TAIL_CHARS = 2000  # what a failure dialog quotes from the demo's error output


class CodeExample(QWidget):
    """A read-only, monospaced block of text with a button that copies it."""

    def __init__(self, copy_label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QPlainTextEdit()
        self.text.setObjectName("codeBlock")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setMinimumHeight(230)
        self._copy_label = copy_label
        self.copy_button = QPushButton(copy_label)
        self.copy_button.clicked.connect(self.copy)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addLayout(buttons)

    def set_text(self, text: str) -> None:
        self.text.setPlainText(text)
        self.copy_button.setText(self._copy_label)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())
        self.copy_button.setText("Copied")


class EmptyState(QWidget):
    # `hindsight demo` ended (True: successfully); either way it may have stored runs.
    demo_finished = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(resource_path("styles/empty_state.qss").read_text(encoding="utf-8"))
        title = QLabel("No runs yet")
        title.setObjectName("emptyTitle")
        self.explanation = plain_label()
        self.explanation.setWordWrap(True)
        self.explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.curl = CodeExample("Copy command")
        self.python = CodeExample("Copy code")
        self.examples = QTabWidget()
        self.examples.addTab(self.curl, "From a terminal (curl)")
        self.examples.addTab(self.python, "From Python")
        # Kept for callers that read the curl example directly.
        self.example, self.copy_button = self.curl.text, self.curl.copy_button

        demo_title = plain_label("Or look around first")
        demo_title.setObjectName("sectionTitle")
        demo_text = plain_label(
            "Load a set of made-up workflow runs (successes, failures, LLM steps) into this "
            "history. You can delete them later with History → Clear Workflow History."
        )
        demo_text.setWordWrap(True)
        self.demo_button = QPushButton("Load Demo Runs")
        self.demo_button.clicked.connect(self.run_demo)
        self.demo_progress = QProgressBar()
        self.demo_progress.setRange(0, 0)  # busy: the demo reports no percentage
        self.demo_progress.setMaximumWidth(160)
        self.demo_progress.hide()
        self.demo_status = plain_label("")
        demo_row = QHBoxLayout()
        demo_row.addWidget(self.demo_button)
        demo_row.addWidget(self.demo_progress)
        demo_row.addWidget(self.demo_status, 1)

        column = QVBoxLayout()
        column.addStretch(1)
        column.addWidget(title)
        column.addWidget(self.explanation)
        column.addWidget(self.examples)
        column.addSpacing(12)
        column.addWidget(demo_title)
        column.addWidget(demo_text)
        column.addLayout(demo_row)
        column.addStretch(2)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(column, 6)
        outer.addStretch(1)

        self._db_path: str | None = None
        self._receiver_url: str | None = None
        self._demo_command: list[str] | None = None
        self._process: QProcess | None = None
        self._stderr = b""
        self.demo_error_box: QMessageBox | None = None

    def set_receiver(self, url: str | None) -> None:
        if url is None:
            self.explanation.setText(
                "The receiver is not running in this window (see the status bar), so reports "
                "cannot arrive here. Close the other Hindsight, or start this one with another "
                "--port, then send a report like this:"
            )
        else:
            self.explanation.setText(
                f"Workflows report their runs to {url}/api/executions. Send a first report "
                "with one of these; it appears here at once."
            )
        self.curl.set_text(curl_example(url or FALLBACK_URL))
        self.python.set_text(python_example(url or FALLBACK_URL))

    # -- the demo -----------------------------------------------------------------------
    def set_demo_target(
        self, db_path: str, receiver_url: str | None, command: list[str] | None = None
    ) -> None:
        """Where the demo writes; `command` replaces `hindsight demo --db DB` (tests)."""
        self._db_path, self._receiver_url = db_path, receiver_url
        self._demo_command = command

    def demo_command(self) -> list[str]:
        if self._demo_command is not None:
            return self._demo_command
        if self._db_path is None:
            raise RuntimeError("set_demo_target() was not called")
        return hindsight_command("demo", "--db", self._db_path)

    def run_demo(self) -> None:
        if self._process is not None:
            return
        program, *arguments = self.demo_command()
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        if self._receiver_url:
            environment.insert("HINDSIGHT_URL", self._receiver_url)
        process.setProcessEnvironment(environment)
        process.readyReadStandardOutput.connect(self._on_demo_output)
        process.readyReadStandardError.connect(self._on_demo_error_output)
        process.finished.connect(self._on_demo_finished)
        process.errorOccurred.connect(self._on_demo_error)
        self._process, self._stderr = process, b""
        self.demo_button.setEnabled(False)
        self.demo_progress.show()
        self.demo_status.setText("Loading demo runs…")
        process.start(program, arguments)

    def stop_demo(self) -> None:
        """At shutdown: do not leave the demo writing to a database we are closing."""
        process = self._process
        if process is not None:
            process.finished.disconnect(self._on_demo_finished)
            process.errorOccurred.disconnect(self._on_demo_error)
            process.kill()
            process.waitForFinished(5000)
            self._process = None

    def _on_demo_output(self) -> None:
        assert self._process is not None
        lines = bytes(self._process.readAllStandardOutput().data()).decode(errors="replace")
        last = next((line for line in reversed(lines.splitlines()) if line.strip()), None)
        if last:  # the demo's own progress lines, shown as they come
            self.demo_status.setText(last.strip())

    def _on_demo_error_output(self) -> None:
        assert self._process is not None
        self._stderr = (self._stderr + bytes(self._process.readAllStandardError().data()))[
            -STDERR_TAIL_CHARS:
        ]

    def _on_demo_finished(self, exit_code: int, status: QProcess.ExitStatus) -> None:
        if self._process is None:
            return
        if status == QProcess.ExitStatus.NormalExit and exit_code == 0:
            self._finish_demo("Demo runs loaded.")
            self.demo_finished.emit(True)
            return
        detail = self._stderr.decode(errors="replace").strip() or "it printed no reason"
        how = f"exited with status {exit_code}" if status == status.NormalExit else "crashed"
        self._fail_demo(f"The demo {how}:\n\n{detail}")

    def _on_demo_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            command = " ".join(self.demo_command())
            reason = self._process.errorString()
            self._fail_demo(f"The demo could not be started ({command}): {reason}")

    def _fail_demo(self, message: str) -> None:
        self._finish_demo("The demo runs could not be loaded.")
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Demo runs not loaded",
            message + "\n\nRuns the demo stored before it stopped stay in the history. Try "
            "again, or send a report with one of the examples above.",
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.open()  # not exec(): the window stays responsive and tests can inspect it
        self.demo_error_box = box
        self.demo_finished.emit(False)

    def _finish_demo(self, status: str) -> None:
        if self._process is not None:
            self._process.deleteLater()
            self._process = None
        self.demo_progress.hide()
        self.demo_button.setEnabled(True)
        self.demo_status.setText(status)
