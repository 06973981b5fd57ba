"""Named port leases for local services, from one registry every language shares.

    import portreg

    with portreg.lease("frontend") as lease:
        serve(port=lease.port)          # lease.url == "http://127.0.0.1:8070"

A lease is held by this process until ``release()``, the end of the ``with``
block, or interpreter exit; if the process dies, the name turns idle and keeps
its port for next time. The registry is ``$PORTREG_HOME``, else
``~/.portreg``; ``Registry(path)`` opens another one and has the same methods
as this module.
"""

from __future__ import annotations

import atexit as _atexit
import builtins as _builtins

from ._errors import (
    InternalError,
    InvalidConfigError,
    InvalidNameError,
    InvalidPortError,
    InvalidRangeError,
    InvalidTextError,
    LeaseHeldError,
    LockTimeoutError,
    NoFreePortError,
    NotFoundError,
    NotHolderError,
    PortBusyError,
    PortregError,
    PortregIOError,
    PortregPermissionError,
    PortregWarning,
    PortTakenError,
    ProcessError,
    RegistryCorruptError,
    RegistryFullError,
    RegistryVersionError,
)
from ._native import (
    Cleaned,
    Conflict,
    Entry,
    Holder,
    HostClaim,
    KillReport,
    Lease,
    ListenerInfo,
    Project,
    ProjectService,
    Registry,
    Who,
    __version__,
)
from ._native import project as _project
from ._native import lease_default as _lease_default
from ._native import release_at_exit as _release_at_exit

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

    RangeArg = Union[str, Tuple[int, int], None]

__all__ = [
    "__version__",
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
    "host_claims",
    "kill",
    "env",
    "project",
    "Registry",
    "Project",
    "ProjectService",
    "Lease",
    "Entry",
    "Holder",
    "Cleaned",
    "Who",
    "ListenerInfo",
    "Conflict",
    "HostClaim",
    "KillReport",
    "PortregWarning",
    "PortregError",
    "InvalidNameError",
    "InvalidPortError",
    "InvalidRangeError",
    "NotFoundError",
    "LeaseHeldError",
    "PortTakenError",
    "PortBusyError",
    "NoFreePortError",
    "NotHolderError",
    "RegistryCorruptError",
    "RegistryVersionError",
    "PortregPermissionError",
    "PortregIOError",
    "ProcessError",
    "InternalError",
    "InvalidConfigError",
    "InvalidTextError",
    "RegistryFullError",
    "LockTimeoutError",
]

# Tracebacks and reprs name the classes where users import them from.
for _cls in (PortregWarning, PortregError, *PortregError.__subclasses__()):
    _cls.__module__ = __name__
del _cls


def __dir__() -> _builtins.list[str]:
    return sorted(__all__ + ["aio"])


def __getattr__(name: str) -> object:
    # ``portreg.aio`` (the asyncio forms) is imported on first use only.
    if name == "aio":
        import importlib

        return importlib.import_module(".aio", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _apply_warning_options() -> None:
    """Applies ``-W`` / ``PYTHONWARNINGS`` options that name a portreg category.

    Python reads those options before site-packages is importable, so it
    prints "Invalid -W option ignored" for ``-W error::portreg.PortregWarning``
    and drops it; the category exists from here on, so the option is applied
    now, as Python would have.
    """
    import sys

    if not any(__name__ + "." in option for option in sys.warnoptions):
        return
    import re
    import warnings

    actions = ("default", "always", "ignore", "module", "once", "error")
    for option in sys.warnoptions:
        parts = [p.strip() for p in option.split(":")]
        if len(parts) < 3 or len(parts) > 5 or not parts[2].startswith(__name__ + "."):
            continue
        parts += [""] * (5 - len(parts))
        action, message, category_name, module, lineno = parts
        category = globals().get(category_name[len(__name__) + 1 :])
        chosen = [a for a in actions if a.startswith(action)] if action else ["default"]
        if not (isinstance(category, type) and issubclass(category, Warning)) or len(chosen) != 1:
            continue
        if any(f[2] is category for f in warnings.filters):
            continue  # Python could import portreg after all (PYTHONPATH)
        try:
            line = int(lineno) if lineno else 0
        except ValueError:
            continue
        warnings.filterwarnings(
            chosen[0],  # type: ignore[arg-type]
            re.escape(message),
            category,
            re.escape(module) + r"\Z" if module else "",
            line,
        )


_apply_warning_options()

# Leases still held when the interpreter exits normally are released then; a
# process that dies instead leaves them to liveness (the name turns idle).
_atexit.register(_release_at_exit)


def lease(
    name: str,
    port: Optional[int] = None,
    exact: bool = False,
    range: RangeArg = None,
    description: Optional[str] = None,
    meta: Optional[Mapping[str, str]] = None,
    temporary: bool = False,
) -> Lease:
    """Lease a port for ``name``, held by this process, and return the ``Lease``.

    The port is, in order: the name's reserved port, the port it remembers,
    ``port`` if free (or exactly ``port`` with ``exact=True``, else
    ``PortTakenError`` / ``PortBusyError``), then the lowest free port of
    ``range`` ("LOW-HIGH" or ``(low, high)``, or several tried in order,
    "3000-3099,8070-8999"; default ``$PORTREG_RANGE``, else 8070-8999). Leasing a name this process already holds returns the
    same lease; a name another live process holds raises ``LeaseHeldError``
    (with ``.pid``, ``.port``, ``.url``). ``description`` and ``meta`` (a
    str-to-str mapping) are stored with the name. With ``temporary=True``
    the name is forgotten when the lease ends (released, or this process
    gone and ``clean`` run) instead of staying idle: for test fixtures.
    """
    return _lease_default(name, port, exact, range, description, meta, temporary)


def release(name: str, force: bool = False) -> bool:
    """Release ``name``: it turns idle and remembers its port.

    Returns True if a lease was released, False if no live process held it.
    Only the holder may release (``NotHolderError``) unless ``force=True``,
    which releases any holder of the same user. ``NotFoundError`` if the
    registry does not know the name.
    """
    return Registry().release(name, force=force)


def get(name: str) -> Optional[Entry]:
    """Return the ``Entry`` for ``name``, or None if the registry does not know it."""
    return Registry().get(name)


def list() -> _builtins.list[Entry]:
    """Return every entry (active, idle and reserved), sorted by port."""
    return Registry().list()


def reserve(name: str, port: int, description: Optional[str] = None) -> Entry:
    """Pin ``name`` to ``port`` (no process needed) and return its entry.

    Reserving the same name on the same port again is not an error. Raises
    ``PortTakenError`` if another name holds or reserves the port.
    """
    return Registry().reserve(name, port, description=description)


def forget(name: str, force: bool = False) -> Entry:
    """Remove ``name`` from the registry and return the entry it had.

    A name held by another live process raises ``LeaseHeldError`` unless
    ``force=True``. ``NotFoundError`` if the registry does not know the name.
    """
    return Registry().forget(name, force=force)


def rename(old: str, new: str, force: bool = False) -> Entry:
    """Rename ``old`` to ``new`` and return the entry.

    The entry keeps its port, reservation, description, meta and holder: a
    process holding it keeps holding it under ``new``. ``new`` may differ
    from ``old`` only in case, or must be a name the registry does not know
    (else ``InvalidNameError``). A name held by another live process raises
    ``LeaseHeldError`` unless ``force=True``; ``NotFoundError`` if the
    registry does not know ``old``.
    """
    return Registry().rename(old, new, force=force)


def find_free(range: RangeArg = None) -> int:
    """Return a port that is free right now in ``range``, leasing nothing.

    The port is picked at random among the first few free ones, so that
    callers asking at the same moment (pytest-xdist workers) rarely get the
    same port; rarely is not never. Only ``lease`` is race-free: it alone
    stops another process from taking the same port before you bind it.
    ``range`` is "LOW-HIGH", ``(low, high)``, or several ranges tried in
    order, "3000-3099,8070-8999".
    """
    return Registry().find_free(range)


def clean() -> _builtins.list[Cleaned]:
    """Drop leases whose holder has died (their names turn idle) and return them."""
    return Registry().clean()


def who(target: Union[int, str]) -> Who:
    """Return who listens on a port or on a name's port.

    ``target`` is a port (an int, or a str such as ``"8000"`` or ``":8000"``)
    or a name (any other str), as ``portreg who`` reads it.

    ``Who.listeners`` names every process listening there (pid, exe, command
    line, user, addresses), whether or not it holds a lease; ``Who.entry`` is
    the registry entry claiming the port, or None. A name the registry does
    not know raises ``NotFoundError``.
    """
    return Registry().who(target)


def conflicts() -> _builtins.list[Conflict]:
    """Return the entries whose port is listened on by a process other than their holder.

    On a shared machine, also the active or reserved entries whose port
    another user's live lease claims (their ``claimed_by`` says who): their
    next lease cannot have that port.
    """
    return Registry().conflicts()


def host_claims() -> _builtins.list[HostClaim]:
    """Return every port claim on this host, of every user.

    What any user can see of anyone's leases: the port, the user and
    whether the holding process is alive (names stay private). Empty when
    sharing is off (``PORTREG_CLAIMS_DIR=off``).
    """
    return Registry().host_claims()


def kill(
    target: Union[str, int], timeout: Optional[float] = None, any_user: bool = False
) -> _builtins.list[KillReport]:
    """Stop a name's holder, or whatever listens on a port, and report how.

    ``target`` is a name, or a port (an int, ``"8000"`` or ``":8000"``).
    Sends SIGTERM, waits up to ``timeout`` seconds (default 10, at most
    3600; anything else raises ``ProcessError``), then SIGKILL. A holder is signalled only after its
    pid and start are checked; a holder that leads its own process group
    (``portreg run``) is stopped with its whole group, one report per
    process; pid 1 and this process are never signalled; another user's
    process raises ``PortregPermissionError``, even as root unless
    ``any_user`` is true. An empty list means there was nothing to stop.
    """
    return Registry().kill(target, timeout, any_user)


def env(names: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """Return ``<NAME>_PORT`` and ``<NAME>_URL`` for every active and reserved name.

    With ``names`` (a list or tuple of names), just those; each must exist.
    The variable prefix is the name upper-cased with ``.`` and ``-`` turned
    into ``_``; two names that spell the same variable raise
    ``InvalidNameError``.
    """
    return Registry().env(names)


def project(
    path: Union[str, os.PathLike[str], None] = None,
    registry: Union[Registry, str, os.PathLike[str], None] = None,
) -> Project:
    """Read a project's services and their ports without starting anything.

    ``path`` is a ``portreg.toml`` or a folder to search upwards from
    (default: the current folder); ``registry`` a ``Registry`` or its
    directory (default: ``$PORTREG_HOME``, else ``~/.portreg``). The
    checkout is recognised as ``portreg up`` names it, so a second checkout
    reads its own ports::

        api = portreg.project().url("api")   # "http://127.0.0.1:8071" or None

    ``.port(service)`` / ``.url(service)`` are None until the service has
    been brought up once; a name that is not a service raises
    ``NotFoundError``; a bad file raises ``InvalidConfigError``.
    """
    if isinstance(registry, Registry):
        registry = registry.path
    return _project(path, registry)
