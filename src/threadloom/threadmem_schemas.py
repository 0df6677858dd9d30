"""Transitional: the threadmem wire schemas now live in ``threadloom._threadmem.schemas``.

Only ``core/rolethreads.py`` and ``_threadmem/backends.py`` still import them from here, while
they are reworked elsewhere; once they import ``_threadmem.schemas``, this module goes.
"""

from ._threadmem.schemas import (
    PostMessageModel,
    V1CreateRoleThread,
    V1DeleteRole,
    V1PostRoleMessage,
    V1Role,
    V1RoleMessage,
    V1RoleThread,
    V1RoleThreadDeleted,
    V1RoleThreadFilter,
    V1RoleThreads,
    V1UpdateRoleThread,
)

__all__ = [
    "PostMessageModel",
    "V1CreateRoleThread",
    "V1DeleteRole",
    "V1PostRoleMessage",
    "V1Role",
    "V1RoleMessage",
    "V1RoleThread",
    "V1RoleThreadDeleted",
    "V1RoleThreadFilter",
    "V1RoleThreads",
    "V1UpdateRoleThread",
]
