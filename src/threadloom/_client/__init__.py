"""What :mod:`threadloom.client`'s ``Client`` and ``AsyncClient`` share, one concern a module:

- ``calls``: what one API call is (``Call``), and the descriptors that turn a method that
  describes a call into a method that makes it, on either client.
- ``endpoints``: every endpoint of the API, described once.
- ``base``: ``BaseClient``: configuration, requests, errors and the retry policy.
"""
