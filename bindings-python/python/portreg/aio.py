"""portreg for asyncio: the same calls, awaited, run in a worker thread.

    import portreg.aio

    async def main() -> None:
        async with portreg.aio.lease("api") as lease:   # released when the block ends
            await serve(port=lease.port)
        await portreg.aio.kill("old-api", timeout=5)    # the loop keeps running meanwhile

Every call takes the registry's file lock, and ``kill`` waits up to its
timeout for the process to exit: run on the event loop's thread they would
stall every other task. Here each one runs in the loop's default executor
(as ``asyncio.to_thread`` does, with the caller's context variables); the
native code lets go of the GIL while it waits. ``registry`` (default: the
default registry) selects another ``portreg.Registry``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools

from . import Cleaned, Conflict, Entry, KillReport, Lease, Registry, Who

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Callable, Dict, Generator, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union

    T = TypeVar("T")
    RangeArg = Union[str, Tuple[int, int], None]

__all__ = [
    "lease",
    "release",
    "get",
    "list",
    "reserve",
    "forget",
    "rename",
    "find_free",
    "clean",
    "who",
    "conflicts",
    "kill",
    "env",
    "LeaseContext",
]


async def _run(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``asyncio.to_thread`` (which needs Python 3.9), written for 3.8 too."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
    return await loop.run_in_executor(None, call)


def _reg(registry: Optional[Registry]) -> Registry:
    return registry if registry is not None else Registry()


class LeaseContext:
    """What ``lease()`` returns: await it for the ``Lease``, or use it with
    ``async with`` to release the lease when the block ends (also on an
    exception or a cancellation)."""

    def __init__(self, registry: Optional[Registry], name: str, kwargs: Dict[str, Any]) -> None:
        self._registry = registry
        self._name = name
        self._kwargs = kwargs
        self._lease: Optional[Lease] = None

    async def _take(self) -> Lease:
        return await _run(_reg(self._registry).lease, self._name, **self._kwargs)

    def __await__(self) -> Generator[Any, None, Lease]:
        return self._take().__await__()

    async def __aenter__(self) -> Lease:
        self._lease = await self._take()
        return self._lease

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            await _run(lease.release)


def lease(
    name: str,
    port: Optional[int] = None,
    exact: bool = False,
    range: RangeArg = None,
    description: Optional[str] = None,
    meta: Optional[Mapping[str, str]] = None,
    temporary: bool = False,
    *,
    registry: Optional[Registry] = None,
) -> LeaseContext:
    """``portreg.lease``: ``await`` it for the ``Lease``, or ``async with`` it."""
    kwargs: Dict[str, Any] = dict(port=port, exact=exact, range=range, description=description, meta=meta, temporary=temporary)
    return LeaseContext(registry, name, kwargs)


async def release(name: str, force: bool = False, *, registry: Optional[Registry] = None) -> bool:
    """``portreg.release``, awaited."""
    return await _run(_reg(registry).release, name, force=force)


async def get(name: str, *, registry: Optional[Registry] = None) -> Optional[Entry]:
    """``portreg.get``, awaited."""
    return await _run(_reg(registry).get, name)


async def list(*, registry: Optional[Registry] = None) -> List[Entry]:
    """``portreg.list``, awaited."""
    return await _run(_reg(registry).list)


async def reserve(
    name: str, port: int, description: Optional[str] = None, *, registry: Optional[Registry] = None
) -> Entry:
    """``portreg.reserve``, awaited."""
    return await _run(_reg(registry).reserve, name, port, description=description)


async def forget(name: str, force: bool = False, *, registry: Optional[Registry] = None) -> Entry:
    """``portreg.forget``, awaited."""
    return await _run(_reg(registry).forget, name, force=force)


async def rename(old: str, new: str, force: bool = False, *, registry: Optional[Registry] = None) -> Entry:
    """``portreg.rename``, awaited."""
    return await _run(_reg(registry).rename, old, new, force=force)


async def find_free(range: RangeArg = None, *, registry: Optional[Registry] = None) -> int:
    """``portreg.find_free``, awaited."""
    return await _run(_reg(registry).find_free, range)


async def clean(*, registry: Optional[Registry] = None) -> List[Cleaned]:
    """``portreg.clean``, awaited."""
    return await _run(_reg(registry).clean)


async def who(target: Union[int, str], *, registry: Optional[Registry] = None) -> Who:
    """``portreg.who``, awaited."""
    return await _run(_reg(registry).who, target)


async def conflicts(*, registry: Optional[Registry] = None) -> List[Conflict]:
    """``portreg.conflicts``, awaited."""
    return await _run(_reg(registry).conflicts)


async def kill(
    target: Union[str, int], timeout: Optional[float] = None, *, registry: Optional[Registry] = None
) -> List[KillReport]:
    """``portreg.kill``, awaited: other tasks run while it waits for the process to exit."""
    return await _run(_reg(registry).kill, target, timeout)


async def env(names: Optional[Sequence[str]] = None, *, registry: Optional[Registry] = None) -> Dict[str, str]:
    """``portreg.env``, awaited."""
    return await _run(_reg(registry).env, names)
