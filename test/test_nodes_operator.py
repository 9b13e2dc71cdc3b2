"""Operator tools and QoS overrides with real rclpy: the rqt plugin's prompt client against a live
referring node (service acknowledgement, latched current target, history, clear, topic fallback), and
the standard ``qos_overrides`` parameters on the frame nodes' image subscription."""

from __future__ import annotations

import uuid

import pytest

from conftest import require_ros_module

rclpy = require_ros_module("rclpy")
require_ros_module("ris_fusion_msgs.msg")
require_ros_module("vision_msgs.msg")

from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import ReliabilityPolicy  # noqa: E402
from test_nodes_detection_referring import Graph, ctx  # noqa: E402, F401  (fixture)

from ris_fusion_ros.nodes.detection_node import DetectionNode  # noqa: E402
from ris_fusion_ros.rqt.prompt_client import PromptClient  # noqa: E402


def acked(graph: Graph, replies: list, future) -> None:
    """Wait for the service reply and for the client's done-callback (scheduled on the executor)."""
    count = len(replies)
    assert graph.spin_until(lambda: future.done() and len(replies) > count)


def test_prompt_client_sends_with_acknowledgement_shows_the_target_and_clears(ctx):  # noqa: F811
    graph = Graph(ctx, nodes=("referring",), max_text_length=50)
    try:
        graph.start()
        graph.executor.add_node(operator := Node("rqt_operator", context=ctx, namespace=graph.ns))
        node = graph.nodes["referring"]
        replies: list[tuple[bool, str]] = []
        active: list[str] = []
        graph.nodes["operator"] = operator  # torn down with the graph
        client = PromptClient(operator, node.get_fully_qualified_name(), f"{graph.ns}/referring_text",
                              on_active=active.append, on_reply=lambda ok, m: replies.append((ok, m)))
        assert graph.spin_until(lambda: client._set.service_is_ready() and client.active_text is not None)
        assert client.active_text == ""  # the node latched "no target" at start
        acked(graph, replies, client.send("the person next to the car"))
        assert replies[-1][0] and graph.spin_until(lambda: client.active_text == "the person next to the car")
        acked(graph, replies, client.send("y" * 51))
        assert replies[-1][0] is False and "max_text_length 50" in replies[-1][1]
        assert client.active_text == "the person next to the car"
        acked(graph, replies, client.send("the car"))
        assert client.history[:2] == ["the car", "y" * 51]
        acked(graph, replies, client.clear())
        assert graph.spin_until(lambda: client.active_text == "") and node.text.text == ""
        # a second operator that joins late sees the current target at once
        acked(graph, replies, client.send("the bicycle"))
        late = PromptClient(operator, node.get_fully_qualified_name())
        assert graph.spin_until(lambda: late.active_text == "the bicycle")
        # without the node's services the client falls back to the topic (no acknowledgement)
        orphan = PromptClient(operator, f"{graph.ns}/nobody", f"{graph.ns}/referring_text",
                              on_reply=lambda ok, m: replies.append((ok, m)))
        graph.spin_until(lambda: orphan._pub.get_subscription_count() >= 1)
        assert orphan.send("the truck") is None and "no acknowledgement" in replies[-1][1]
        assert graph.spin_until(lambda: node.text.text == "the truck")
    finally:
        graph.close()


@pytest.mark.parametrize("policy", ["reliable", "best_effort"])
def test_qos_overrides_parameters_set_the_image_subscription_reliability(ctx, policy):  # noqa: F811
    ns = f"/q{uuid.uuid4().hex[:8]}"
    overrides = [Parameter(f"qos_overrides.{ns}/fused/image.subscription.reliability", value=policy)]
    graph = Graph(ctx, nodes=("detection",))
    node = DetectionNode(context=ctx, namespace=ns, parameter_overrides=overrides,
                         shared_detection=graph.nodes["detection"]._shared_detection)
    try:
        graph.executor.add_node(node)
        node.trigger_configure()
        node.trigger_activate()
        assert graph.spin_until(lambda: node.get_subscriptions_info_by_topic(f"{ns}/fused/image"))
        info = node.get_subscriptions_info_by_topic(f"{ns}/fused/image")[0]
        expected = ReliabilityPolicy.RELIABLE if policy == "reliable" else ReliabilityPolicy.BEST_EFFORT
        assert info.qos_profile.reliability == expected
    finally:
        node.destroy_node()
        graph.close()
