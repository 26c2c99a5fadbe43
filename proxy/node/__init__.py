"""The node: model servers plus the proxy, driven the same way by the CLI and the panel."""

from naptha_tui.proxy.node.core import Node, NodeStatus, Progress, UpFailed

__all__ = ["Node", "NodeStatus", "Progress", "UpFailed"]
