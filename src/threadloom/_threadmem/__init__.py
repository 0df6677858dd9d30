"""The implementation of ``threadloom.threadmem`` (import from there)."""

from .messages import RoleMessage
from .records import RoleMessageRecord, RoleThreadRecord
from .threads import RoleThread

__all__ = ["RoleMessage", "RoleMessageRecord", "RoleThread", "RoleThreadRecord"]
