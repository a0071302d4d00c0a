"""One viewer per user: a second launch hands its files to the running window and exits.

The running instance listens on a QLocalServer (a Unix socket / Windows named pipe) named
after the user and the per-user data folder, so two users on one machine, or two
``XRAYVIEWER_HOME``\\ s, never meet. The protocol is one JSON line of absolute paths, answered
by ``ok``; with no answer within a second the new launch simply opens its own window, so a
hung or crashed instance never blocks the user.

One instance per home folder: with ``XRAYVIEWER_HOME`` set, launches that share it share one
window, and a launch with another home (a test, the self-test, a second reader's profile) has
its own server name, so it never finds or feeds a window of another home. Off with
``XRAYVIEWER_SINGLE_INSTANCE=0`` or ``--no-single-instance``.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
from typing import Optional, Sequence

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from ..paths import user_data_dir

log = logging.getLogger(__name__)
ACK = b"ok\n"


def enabled(environ=os.environ) -> bool:
    return environ.get("XRAYVIEWER_SINGLE_INSTANCE", "1") != "0"


def server_name() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name (some containers): the data folder still separates users
        user = "user"
    digest = hashlib.sha256(f"{user}|{user_data_dir()}".encode()).hexdigest()[:16]
    return f"xrayviewer-{digest}"


def send_to_running(paths: Sequence[str], name: Optional[str] = None, timeout_ms: int = 1000) -> bool:
    """Give ``paths`` to a running instance; True when it acknowledged them."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(timeout_ms):
        return False
    payload = json.dumps([os.path.abspath(p) for p in paths]).encode() + b"\n"
    socket.write(payload)
    ok = socket.waitForBytesWritten(timeout_ms) and socket.waitForReadyRead(timeout_ms)
    ok = ok and bytes(socket.readAll().data()).startswith(ACK.strip())
    socket.disconnectFromServer()
    return bool(ok)


class InstanceServer(QObject):
    """Receives paths from later launches; ``filesReceived(list)`` fires on the GUI thread."""

    filesReceived = Signal(list)

    def __init__(self, name: Optional[str] = None, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.name = name or server_name()
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)
        self._buffers: dict = {}

    def listen(self) -> bool:
        if self._server.listen(self.name):
            return True
        # A socket file left by a crashed instance: nothing answered our connect, so remove it.
        QLocalServer.removeServer(self.name)
        ok = self._server.listen(self.name)
        if not ok:
            log.warning("Single-instance server unavailable: %s", self._server.errorString())
        return ok

    def close(self) -> None:
        self._server.close()

    @Slot()
    def _on_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._on_ready(s))
            socket.disconnected.connect(socket.deleteLater)
            socket.disconnected.connect(lambda s=socket: self._buffers.pop(s, None))

    def _on_ready(self, socket) -> None:
        data = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        if b"\n" not in data:
            self._buffers[socket] = data
            return
        line = data.split(b"\n", 1)[0]
        try:
            paths = [str(p) for p in json.loads(line.decode("utf-8"))]
        except (ValueError, TypeError, UnicodeDecodeError):
            log.warning("Ignored a malformed request from another launch")
            socket.disconnectFromServer()
            return
        socket.write(ACK)
        socket.flush()
        self.filesReceived.emit(paths)
