"""The operator's side of the text interface, without Qt (the rqt widget is a thin shell over this).

Sends through the ``set_prompt`` service when the node offers it (the reply says whether the text
was accepted and why), otherwise publishes on ``referring_text``; follows ``active_text``
(transient local, so the current target shows as soon as the plugin starts); keeps a history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String
from std_srvs.srv import Trigger

from ris_fusion_msgs.srv import SetReferringText

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
HISTORY_LENGTH = 50


class PromptClient:
    """Talks to one referring_segmentation_node (``node_name`` fully qualified).

    Callbacks run in the ROS executor thread; a GUI must hand them to its own thread.
    """

    def __init__(self, node: Node, node_name: str = "/referring_segmentation_node", text_topic: str = "/referring_text",
                 on_active: Callable[[str], None] | None = None, on_reply: Callable[[bool, str], None] | None = None):
        self.node = node
        self.active_text: str | None = None  # None until the node told us
        self.history: list[str] = []
        self.on_active, self.on_reply = on_active, on_reply
        self._pub = node.create_publisher(String, text_topic, RELIABLE)
        self._set = node.create_client(SetReferringText, f"{node_name}/set_prompt")
        self._clear = node.create_client(Trigger, f"{node_name}/clear_prompt")
        self._sub = node.create_subscription(String, f"{node_name}/active_text", self._on_active, LATCHED)

    def _on_active(self, msg: String) -> None:
        self.active_text = msg.data
        if self.on_active is not None:
            self.on_active(msg.data)

    def _remember(self, text: str) -> None:
        if text and (not self.history or self.history[0] != text):
            self.history.insert(0, text)
            del self.history[HISTORY_LENGTH:]

    def _reply(self, ok: bool, message: str) -> None:
        if self.on_reply is not None:
            self.on_reply(ok, message)

    def send(self, text: str) -> Any:
        """Set the target; returns the service future (or None when the text went out on the topic)."""
        self._remember(text.strip())
        if self._set.service_is_ready():
            future = self._set.call_async(SetReferringText.Request(text=text))
            future.add_done_callback(lambda f: self._reply(f.result().success, f.result().message))
            return future
        self._pub.publish(String(data=text))
        self._reply(True, f"published on {self._pub.topic_name} (service not available: no acknowledgement)")
        return None

    def clear(self) -> Any:
        if self._clear.service_is_ready():
            future = self._clear.call_async(Trigger.Request())
            future.add_done_callback(lambda f: self._reply(f.result().success, f.result().message))
            return future
        self._pub.publish(String(data=""))
        self._reply(True, "cleared via the topic (service not available)")
        return None

    def close(self) -> None:
        self.node.destroy_subscription(self._sub)
        self.node.destroy_publisher(self._pub)
        self.node.destroy_client(self._set)
        self.node.destroy_client(self._clear)
