"""The implementation of ``threadloom.threadmem`` (import from there).

This package's own module imports nothing, so that its wire schemas (``schemas.py``, shared
with the server routes and the client) import without the rest of the library.
"""
