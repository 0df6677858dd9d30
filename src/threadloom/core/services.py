"""All services over one store, built once per process (server, CLI or local library)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..events import EventHub, create_event_hub
from ..store import Store
from .assistants import AssistantService
from .auth import KeyService, is_loopback
from .chat import ChatService
from .idempotency import IdempotencyService
from .limits import LimitChecker
from .live import LiveService
from .providers import ProviderPool
from .retention import RetentionService
from .rolethreads import RoleThreadService
from .sessions import SessionService
from .spaces import SpaceService
from .state import StateService
from .threads import ThreadService

__all__ = ["Services"]


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: Store
    keys: KeyService
    spaces: SpaceService
    threads: ThreadService
    state: StateService
    idempotency: IdempotencyService
    retention: RetentionService
    rolethreads: RoleThreadService
    assistants: AssistantService
    chat: ChatService
    sessions: SessionService
    events: EventHub
    live: LiveService

    @classmethod
    def build(cls, store: Store, settings: Settings) -> Services:
        limits = LimitChecker(settings.limits)
        events = create_event_hub(settings)
        threads = ThreadService(store, limits, events)
        idempotency = IdempotencyService(store, ttl_seconds=settings.idempotency_ttl_seconds)
        assistants = AssistantService(
            store,
            limits,
            system_prompt=settings.llm_system_prompt,
            context_tokens=settings.llm_context_tokens,
        )
        chat = ChatService(
            store,
            threads,
            assistants,
            ProviderPool(settings.llm_config),
            idempotency,
            lease_seconds=settings.chat_lease_seconds,
        )
        return cls(
            settings=settings,
            store=store,
            keys=KeyService(
                store,
                cache_seconds=settings.key_cache_seconds,
                open_when_keyless=settings.insecure or is_loopback(settings.host),
                insecure=settings.insecure,
            ),
            spaces=SpaceService(store, limits),
            threads=threads,
            state=StateService(store, limits, events),
            idempotency=idempotency,
            retention=RetentionService(store, events),
            rolethreads=RoleThreadService(threads),
            assistants=assistants,
            chat=chat,
            sessions=SessionService(store, threads, chat),
            events=events,
            live=LiveService(store, events),
        )
