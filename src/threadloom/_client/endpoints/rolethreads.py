"""The original threadmem server API's role changes: ``client.rolethreads``."""

from __future__ import annotations

from ..._threadmem.schemas import V1Role
from ..calls import Call, Endpoint, JSONMapping, decode, encode, path, query

__all__ = ["RoleThreadEndpoints"]


def _roles_path(thread: str) -> str:
    return path("v1", "rolethreads", thread, "roles")


class RoleThreadEndpoints:
    """The role mapping of a thread through the original threadmem server API
    (``/v1/rolethreads``), on the default space, or the space of a space-bound key. Each
    change is one atomic check-and-set on the server: of two clients adding the same role,
    exactly one succeeds.

    Neither call is retried once its request may have reached the server: a retry after a
    lost answer would find its own change made and answer ``Conflict`` or ``NotFound``."""

    @Endpoint
    def add_role(self, thread: str, role: V1Role | JSONMapping) -> Call[V1Role]:
        """Add ``role`` (a ``V1Role`` or a mapping of its fields: ``name``, ``user_id``,
        ``user_name``, ``icon``, ``description``) under its name, and return it as stored.
        Raises ``Conflict`` when the thread has a role of that name already, ``NotFound``
        when there is no such thread."""
        return Call(
            "POST",
            _roles_path(thread),
            decode(V1Role),
            content=encode(role),
            repeatable=False,
        )

    @Endpoint
    def remove_role(self, thread: str, name: str) -> Call[V1Role]:
        """Remove the role ``name`` and return it as it was. Raises ``NotFound`` when the
        thread has no such role or there is no such thread (the problem's ``detail`` says
        which; ``threads.get`` tells them apart)."""
        return Call(
            "DELETE",
            _roles_path(thread),
            decode(V1Role),
            params=query(name=name),
            repeatable=False,
        )
