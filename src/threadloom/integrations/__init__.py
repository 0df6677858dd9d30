"""Adapters to other libraries, each imported explicitly so that ``import threadloom`` never
pulls them in: ``from threadloom.integrations.langchain import ThreadloomChatMessageHistory``
(needs the ``langchain`` extra)."""

__all__: list[str] = []
