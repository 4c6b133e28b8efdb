"""Cursor pagination, in the shape of dlt's paginators: the client loop asks the paginator what to
fetch next and knows nothing about where a particular API keeps its cursor.

Two guards (promise 5 and Meltano's "Loop detected in pagination"):

* a ``next`` link is followed only when it points at the API's own origin (scheme, host, port)
  and path, so a tampered or buggy response cannot send the bearer token elsewhere;
* a cursor seen twice stops paging with ``PagingLoopError`` instead of looping forever.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..errors import PagingLoopError, PipelineError

# Spotify's largest cursor-paged list is a few thousand followed artists, 50 a page: a
# paginator still going after this many pages is broken, whatever its cursors say.
MAX_PAGES = 1000


class Paginator(Protocol):
    def update_state(self, page: dict[str, Any]) -> None:
        """Read the cursor from the page just fetched."""

    def next_url(self) -> str | None:
        """The URL of the next page, or None when paging is done."""


def same_origin(url: str, api_url: str) -> bool:
    """True when ``url`` is on the API's origin and under its base path (e.g. ``/v1/``)."""
    target, base = urlsplit(url), urlsplit(api_url)
    if (target.scheme, target.hostname, target.port) != (base.scheme, base.hostname, base.port):
        return False
    if target.username is not None or target.password is not None:
        return False
    base_path = base.path.rstrip("/") + "/"
    return target.path.startswith(base_path)


class CursorNextPaginator:
    """Follows the page's ``next`` link; the cursor is read by ``cursor_of`` for loop detection.

    ``container`` is the key that wraps the paging object (``"artists"`` for /me/following), or
    None when the page is the paging object itself (recently-played).
    """

    def __init__(
        self,
        api_url: str,
        endpoint: str,
        container: str | None = None,
        cursor_of: Callable[[dict[str, Any]], str | None] | None = None,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.api_url = api_url
        self.endpoint = endpoint
        self.container = container
        self._cursor_of = cursor_of or _after_cursor
        self._seen: set[str] = set()
        self._next: str | None = None
        self._pages = 0
        self._max_pages = max_pages

    def _paging(self, page: dict[str, Any]) -> dict[str, Any]:
        paging = page.get(self.container) if self.container else page
        if not isinstance(paging, dict):
            raise PipelineError(f"{self.endpoint}: page has no {self.container!r} paging object")
        return paging

    def update_state(self, page: dict[str, Any]) -> None:
        self._pages += 1
        paging = self._paging(page)
        nxt = paging.get("next")
        if not nxt:
            self._next = None
            return
        if not isinstance(nxt, str) or not same_origin(nxt, self.api_url):
            # Name the host only: the rest of a foreign URL is none of the log's business.
            host = urlsplit(nxt).hostname if isinstance(nxt, str) else type(nxt).__name__
            raise PipelineError(
                f"{self.endpoint}: refusing to follow a `next` link off the API origin "
                f"(host {host!r}, expected {urlsplit(self.api_url).hostname!r})"
            )
        cursor = self._cursor_of(paging) or nxt
        if cursor in self._seen:
            raise PagingLoopError(
                f"{self.endpoint}: loop detected in pagination, cursor {cursor!r} came back "
                f"after {self._pages} pages; stopping"
            )
        if self._pages >= self._max_pages:
            raise PagingLoopError(f"{self.endpoint}: more than {self._max_pages} pages; stopping")
        self._seen.add(cursor)
        self._next = nxt

    def next_url(self) -> str | None:
        return self._next


def _after_cursor(paging: dict[str, Any]) -> str | None:
    cursors = paging.get("cursors")
    if isinstance(cursors, dict):
        after = cursors.get("after")
        if after is not None:
            return str(after)
    return None
