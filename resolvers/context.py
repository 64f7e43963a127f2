"""Per-request (and per-subscription-event) GraphQL context with fresh DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from app.auth import Principal
from app.errors import Forbidden, Unauthenticated
from app.services.graph import UserGraph, load_graphs


def new_graph_loader() -> DataLoader[str, UserGraph]:
    """A loader of user graphs; make one per request or per subscription event."""
    return DataLoader(load_fn=load_graphs)


@dataclass
class Context:
    """What resolvers get as `info.context`."""

    principal: Principal | None
    request: Any = None
    response: Any = None
    graphs: DataLoader[str, UserGraph] = field(default_factory=new_graph_loader)
    #: The websocket `connection_init` payload (set by Strawberry).
    connection_params: dict[str, Any] | None = None
    #: The bearer token presented (rate-limit key of websocket operations; never logged).
    token: str | None = None
    #: The user whose socket slot this websocket holds, and the slot (released when it closes).
    socket_user: str | None = None
    socket_slot: str | None = None
    #: Other per-request DataLoaders by name (`loader`).
    loaders: dict[str, DataLoader[Any, Any]] = field(default_factory=dict)

    def loader(self, name: str, load_fn: Any) -> DataLoader[Any, Any]:
        """The request's DataLoader called `name` (made on first use with `load_fn`)."""
        if name not in self.loaders:
            self.loaders[name] = DataLoader(load_fn=load_fn)
        return self.loaders[name]

    def require_user(self) -> str:
        """The caller's user id; clients and anonymous callers are refused."""
        if self.principal is None:
            raise Unauthenticated("A valid user token is required.")
        if self.principal.user_id is None:
            raise Forbidden("This needs a user token, not a client secret.")
        return self.principal.user_id

    def require_client(self) -> str:
        """The caller's client id, for client-secret-only operations."""
        if self.principal is None:
            raise Unauthenticated("A valid client secret is required.")
        if not self.principal.is_client:
            raise Forbidden("This needs a client secret, not a user token.")
        return self.principal.client_id

    async def graph(self) -> UserGraph:
        """The caller's asset graph (loaded once per request)."""
        return await self.graphs.load(self.require_user())

    def fresh(self) -> Context:
        """A copy with new loaders (for each subscription event)."""
        return Context(principal=self.principal, request=self.request, response=self.response, token=self.token)
