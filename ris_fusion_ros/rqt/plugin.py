"""rqt plugin "RIS Fusion target": a text box, Send/Clear, the current target and a clickable history.

rqt is not installable from PyPI (nor is python_qt_binding), so this file is imported only by rqt on a
full ROS 2 install (``rqt --standalone ris_fusion_ros.rqt.plugin.PromptPlugin`` or Plugins menu);
its logic lives in :mod:`.prompt_client`, which is tested here with real rclpy.
"""

from __future__ import annotations

from typing import Any

from python_qt_binding.QtCore import Qt, Signal
from python_qt_binding.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from rqt_gui_py.plugin import Plugin

from .prompt_client import PromptClient


class _Widget(QWidget):
    active_changed = Signal(str)  # from ROS threads to the Qt thread
    replied = Signal(bool, str)


class PromptPlugin(Plugin):
    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.setObjectName("RisFusionPrompt")
        self._widget = w = _Widget()
        w.setWindowTitle("RIS Fusion target")
        self._node_box = QLineEdit("/referring_segmentation_node")
        self._text = QLineEdit()
        self._text.setPlaceholderText('e.g. "the person next to the car"')
        send, clear = QPushButton("Send"), QPushButton("Clear")
        self._active = QLabel("current target: (unknown)")
        self._status = QLabel("")
        self._history = QListWidget()
        row = QHBoxLayout()
        row.addWidget(self._text)
        row.addWidget(send)
        row.addWidget(clear)
        layout = QVBoxLayout(w)
        layout.addWidget(QLabel("node"))
        layout.addWidget(self._node_box)
        layout.addLayout(row)
        layout.addWidget(self._active)
        layout.addWidget(self._status)
        layout.addWidget(QLabel("history (double-click to send again)"))
        layout.addWidget(self._history)
        w.active_changed.connect(self._show_active, Qt.QueuedConnection)
        w.replied.connect(self._show_reply, Qt.QueuedConnection)
        send.clicked.connect(self._send)
        self._text.returnPressed.connect(self._send)
        clear.clicked.connect(lambda: self._client.clear())
        self._history.itemDoubleClicked.connect(lambda item: self._send(item.text()))
        self._node_box.editingFinished.connect(self._connect)
        self._ros_node = context.node
        self._client: PromptClient | None = None
        self._connect()
        if context.serial_number() > 1:
            w.setWindowTitle(f"{w.windowTitle()} ({context.serial_number()})")
        context.add_widget(w)

    def _connect(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = PromptClient(self._ros_node, self._node_box.text().strip() or "/referring_segmentation_node",
                                    on_active=self._widget.active_changed.emit, on_reply=self._widget.replied.emit)

    def _send(self, text: str | None = None) -> None:
        text = self._text.text() if text is None or isinstance(text, bool) else text
        self._client.send(text)
        self._history.clear()
        self._history.addItems(self._client.history)

    def _show_active(self, text: str) -> None:
        self._active.setText(f"current target: {text!r}" if text else "current target: none")

    def _show_reply(self, ok: bool, message: str) -> None:
        self._status.setText(("OK: " if ok else "REJECTED: ") + message)

    def shutdown_plugin(self) -> None:
        if self._client is not None:
            self._client.close()
