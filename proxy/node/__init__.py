"""The node: model servers plus the proxy, driven the same way by the CLI and the panel."""

from naptha_tui.proxy.node.core import Node, Progress, UpFailed
from naptha_tui.proxy.node.observe import NodeStatus

__all__ = ["Node", "NodeStatus", "Progress", "UpFailed"]
