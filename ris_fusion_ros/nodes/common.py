"""Helpers shared by the nodes: parameter tables, QoS, incompatible-QoS reporting, latency/rate.

Nothing here knows about fusion; every node declares its parameters from a table of
:class:`ParamSpec`, validates changes through one callback and reports through ``/diagnostics``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.exceptions import InvalidParameterTypeException, ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSPolicyKind,
    QoSProfile,
    ReliabilityPolicy,
    qos_policy_name_from_kind,
)
from rclpy.qos_overriding_options import QoSOverridingOptions

# ----------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter: name, default (its type sets the parameter type), description, range.

    ``minimum``/``maximum`` become an IntegerRange or FloatingPointRange (both needed for a range);
    ``read_only`` marks values that only make sense with a reconfigure (set them by override or YAML);
    ``dynamic`` lets the parameter take values of another type than its default's.
    """

    name: str
    default: Any
    description: str
    minimum: float | int | None = None
    maximum: float | int | None = None
    read_only: bool = False
    constraints: str = ""
    dynamic: bool = False  # any value type is accepted (e.g. "auto" or a bool); the node parses it

    def descriptor(self) -> ParameterDescriptor:
        desc = ParameterDescriptor(
            name=self.name,
            description=self.description,
            read_only=self.read_only,
            additional_constraints=self.constraints,
            dynamic_typing=self.dynamic,
        )
        if self.minimum is not None and self.maximum is not None:
            if isinstance(self.default, bool):
                raise TypeError(f"parameter {self.name}: a bool cannot have a range")
            if isinstance(self.default, int):
                desc.integer_range = [IntegerRange(from_value=int(self.minimum), to_value=int(self.maximum), step=1)]
            else:
                desc.floating_point_range = [
                    FloatingPointRange(from_value=float(self.minimum), to_value=float(self.maximum), step=0.0)
                ]
        return desc


class ParameterError(ValueError):
    """A parameter override the node cannot start with (the message names the parameter and the fix)."""


def declare_parameters(node: Node, specs: Iterable[ParamSpec]) -> None:
    """Declare every parameter of the table with its descriptor (overrides from YAML/CLI apply).

    A whole number given for a floating-point parameter (``-p score_margin:=0``, ``min_score: 1`` in YAML) is
    taken as that float: rclpy would refuse it and the node would not start. Any other type mismatch, and an
    override without a value (``[]`` in a Jazzy params file has no type, so rclpy leaves the parameter unset and
    the first read fails), raise :class:`ParameterError` naming the parameter.
    """
    for spec in specs:
        try:
            node.declare_parameter(spec.name, spec.default, spec.descriptor())
        except InvalidParameterTypeException:
            given = _override_value(node, spec.name, spec.default)
            if not isinstance(spec.default, float) or isinstance(given, bool) or not isinstance(given, int):
                raise ParameterError(f"parameter {spec.name}: got {given!r} of type {type(given).__name__}, "
                                     f"expected type {type(spec.default).__name__} (default {spec.default!r})"
                                     ) from None
            node.declare_parameter(spec.name, float(given), spec.descriptor(), ignore_override=True)
        try:
            node.get_parameter(spec.name)
        except ParameterUninitializedException:
            raise ParameterError(f"parameter {spec.name}: the overrides give it no value (an empty list [] has no "
                                 f"type in a ROS 2 params file); give a {type(spec.default).__name__} or leave it "
                                 f"out for the default {spec.default!r}") from None


def _override_value(node: Node, name: str, default: Any) -> Any:
    """The value the overrides give ``name`` (declared for a moment with any type, then undeclared)."""
    value = node.declare_parameter(name, default, ParameterDescriptor(dynamic_typing=True)).value
    node.undeclare_parameter(name)
    return value


def parameter_values(node: Node, specs: Iterable[ParamSpec]) -> dict[str, Any]:
    """Current values of the table's parameters, as plain Python values."""
    return {spec.name: node.get_parameter(spec.name).value for spec in specs}


Validator = Callable[[dict[str, Any]], str | None]


def add_validation_callback(node: Node, names: Iterable[str], validate: Validator) -> None:
    """Reject parameter changes that ``validate`` refuses.

    ``validate`` receives the full candidate values (current values with the change applied) of
    ``names`` and returns None when they are acceptable, else the reason shown to the caller.
    """
    watched = tuple(names)

    def on_set(params: list[Parameter]) -> SetParametersResult:
        if not any(p.name in watched for p in params):
            return SetParametersResult(successful=True)
        candidate = {name: node.get_parameter(name).value for name in watched if node.has_parameter(name)}
        candidate.update({p.name: p.value for p in params if p.name in watched})
        try:
            reason = validate(candidate)
        except Exception as exc:  # a validator bug must not accept silently
            reason = f"validation failed: {exc}"
        return SetParametersResult(successful=reason is None, reason=reason or "")

    node.add_on_set_parameters_callback(on_set)


# ----------------------------------------------------------------------------- QoS


def sensor_qos(depth: int = 5) -> QoSProfile:
    """Image subscriptions: best effort, keep last ``depth`` (matches reliable and best-effort publishers)."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.VOLATILE,
    )


def reliable_qos(depth: int = 5) -> QoSProfile:
    """Publishers: reliable + volatile, keep last ``depth`` (a reliable publisher serves every subscriber kind)."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )


def overriding_options() -> QoSOverridingOptions:
    """``qos_overrides.<topic>.<publisher|subscription>.<policy>`` parameters for the usual policies."""
    return QoSOverridingOptions.with_default_policies()


_QOS_FIXES = {
    QoSPolicyKind.RELIABILITY: "a BEST_EFFORT publisher cannot serve a RELIABLE subscriber: make the subscriber "
    "best effort or the publisher reliable (qos_overrides.<topic>.*.reliability)",
    QoSPolicyKind.DURABILITY: "a VOLATILE publisher cannot serve a TRANSIENT_LOCAL subscriber: make the subscriber "
    "volatile (qos_overrides.<topic>.*.durability)",
    QoSPolicyKind.DEADLINE: "the publisher offers a longer deadline than the subscriber requests",
    QoSPolicyKind.LIVELINESS: "the liveliness kinds/leases of publisher and subscriber do not match",
}


class QosIncidents:
    """Counts incompatible-QoS events and logs one ERROR per event naming topic, policy and fix."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._lock = threading.Lock()
        self.total = 0
        self.by_topic: dict[str, int] = {}

    def _record(self, topic: str, side: str, policy_kind: Any) -> None:
        try:
            kind = QoSPolicyKind(policy_kind)
            policy = qos_policy_name_from_kind(kind)
        except (ValueError, TypeError):
            kind, policy = None, str(policy_kind)
        fix = _QOS_FIXES.get(kind, "make the QoS policies of both ends compatible") if kind is not None else ""
        with self._lock:
            self.total += 1
            self.by_topic[topic] = self.by_topic.get(topic, 0) + 1
        self._node.get_logger().error(
            f"incompatible QoS on {side} '{topic}': policy {policy} does not match the other end; fix: {fix}"
        )

    def publisher_callbacks(self, topic: str) -> PublisherEventCallbacks:
        return PublisherEventCallbacks(
            incompatible_qos=lambda event: self._record(topic, "publisher", event.last_policy_kind)
        )

    def subscription_callbacks(self, topic: str) -> SubscriptionEventCallbacks:
        return SubscriptionEventCallbacks(
            incompatible_qos=lambda event: self._record(topic, "subscription", event.last_policy_kind)
        )


# ----------------------------------------------------------------------------- latency / rate


class LatencyTracker:
    """Latency from the source stamp to publication and the output rate, over a sliding window."""

    def __init__(self, window: int = 200, rate_window_seconds: float = 5.0) -> None:
        self._latencies_ms: deque[float] = deque(maxlen=window)
        self._times: deque[float] = deque()
        self._rate_window = rate_window_seconds
        self._lock = threading.Lock()
        self.count = 0

    def record(self, source_stamp_ns: int, publish_time_ns: int, monotonic_s: float | None = None) -> None:
        now = time.monotonic() if monotonic_s is None else monotonic_s
        with self._lock:
            self.count += 1
            self._latencies_ms.append((publish_time_ns - source_stamp_ns) / 1e6)
            self._times.append(now)
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self._rate_window:
            self._times.popleft()

    def snapshot(self, monotonic_s: float | None = None) -> dict[str, float]:
        """``rate_hz``, ``latency_p50_ms``, ``latency_p99_ms`` (NaN before the first sample)."""
        now = time.monotonic() if monotonic_s is None else monotonic_s
        with self._lock:
            self._trim(now)
            if len(self._times) >= 2 and self._times[-1] > self._times[0]:
                rate = (len(self._times) - 1) / (self._times[-1] - self._times[0])
            else:
                rate = 0.0
            lat = np.asarray(self._latencies_ms, dtype=np.float64)
        p50, p99 = (float(v) for v in np.percentile(lat, [50, 99])) if lat.size else (float("nan"),) * 2
        return {"rate_hz": rate, "latency_p50_ms": p50, "latency_p99_ms": p99}


# ----------------------------------------------------------------------------- diagnostics


def diagnostic_status(name: str, hardware_id: str, level: bytes, message: str,
                      values: Mapping[str, Any] | Sequence[tuple[str, Any]]) -> DiagnosticStatus:
    """A DiagnosticStatus with its values as strings (floats with 3 decimals)."""
    items = values.items() if isinstance(values, Mapping) else values

    def text(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)

    return DiagnosticStatus(
        level=level, name=name, hardware_id=hardware_id, message=message,
        values=[KeyValue(key=str(k), value=text(v)) for k, v in items],
    )
