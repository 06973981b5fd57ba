"""The exceptions portreg raises: one class per stable error code.

Every class has ``code``, the code's spelling shared by every language
(``"LEASE_HELD"``...). Permission and I/O errors also derive from the
matching builtins, so ``except PermissionError`` and ``except OSError``
catch them too.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Tuple, Type


class PortregWarning(UserWarning):
    """A registry problem that did not stop the call (a corrupt registry.json
    moved aside, a range overlapping the kernel's ephemeral ports...)."""


class PortregError(Exception):
    """Base of every portreg error. ``code`` is the stable error code."""

    code: str = ""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """What went wrong and what to do about it."""
        return str(self.args[0]) if self.args else ""


class InvalidNameError(PortregError):
    """A name is not 1-64 ASCII letters, digits, '.', '_' or '-' starting with a letter or digit."""

    code = "INVALID_NAME"


class InvalidPortError(PortregError):
    """A port is not a whole number from 1 to 65535 (or ``exact`` came without a port)."""

    code = "INVALID_PORT"


class InvalidRangeError(PortregError):
    """A range is not LOW-HIGH with 1024 <= LOW <= HIGH <= 65535."""

    code = "INVALID_RANGE"


class NotFoundError(PortregError):
    """The registry does not know the name."""

    code = "NOT_FOUND"


class LeaseHeldError(PortregError):
    """Another live process holds the name.

    ``name``, ``pid``, ``port`` and ``since`` (RFC 3339, UTC) describe that
    holder, so an app can say where it is already running (``url``).
    """

    code = "LEASE_HELD"

    def __init__(
        self, message: str, name: str = "", pid: int = 0, port: int = 0, since: str = ""
    ) -> None:
        super().__init__(message)
        self.name = name
        self.pid = pid
        self.port = port
        self.since = since

    @property
    def url(self) -> str:
        """Where the holder serves: ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.message, self.name, self.pid, self.port, self.since))


class PortTakenError(PortregError):
    """The exact port asked for belongs to another name in the registry."""

    code = "PORT_TAKEN"


class PortBusyError(PortregError):
    """The exact port asked for is in use by a process outside the registry."""

    code = "PORT_BUSY"


class NoFreePortError(PortregError):
    """Every port of the range is held, reserved or in use."""

    code = "NO_FREE_PORT"


class NotHolderError(PortregError):
    """Only the holder may release the name (or pass ``force=True``)."""

    code = "NOT_HOLDER"


class RegistryCorruptError(PortregError):
    """A registry file cannot be read; it is kept as it is."""

    code = "REGISTRY_CORRUPT"


class RegistryVersionError(PortregError):
    """The registry was written by a newer portreg; it is read but never written."""

    code = "REGISTRY_VERSION"


class PortregPermissionError(PortregError, PermissionError):
    """The registry or a process belongs to someone else, or a port needs privileges."""

    code = "PERMISSION"


class PortregIOError(PortregError, OSError):
    """Reading or writing the registry failed at the OS level."""

    code = "IO"


class ProcessError(PortregError):
    """A process could not be found, inspected or signalled."""

    code = "PROCESS"


class InternalError(PortregError):
    """A bug in portreg; please report it."""

    code = "INTERNAL"


class InvalidConfigError(PortregError):
    """A portreg.toml cannot be used; nothing was started or leased."""

    code = "INVALID_CONFIG"


class InvalidTextError(PortregError):
    """A description or meta holds a control character (meta values: NUL) or
    is longer than its limit (description 1024 bytes, meta key 64 bytes,
    meta value 4096 bytes, 32 meta keys)."""

    code = "INVALID_TEXT"


class RegistryFullError(PortregError):
    """The change would make registry.json larger than any reader accepts
    (64 MiB); nothing was changed."""

    code = "REGISTRY_FULL"


class LockTimeoutError(PortregError, TimeoutError):
    """Another process held the registry lock past the lock timeout
    (``PORTREG_LOCK_TIMEOUT``, default 30 s); nothing was changed."""

    code = "LOCK_TIMEOUT"


ERRORS_BY_CODE: Dict[str, Type[PortregError]] = {
    cls.code: cls
    for cls in (
        InvalidNameError,
        InvalidPortError,
        InvalidRangeError,
        NotFoundError,
        LeaseHeldError,
        PortTakenError,
        PortBusyError,
        NoFreePortError,
        NotHolderError,
        RegistryCorruptError,
        RegistryVersionError,
        PortregPermissionError,
        PortregIOError,
        ProcessError,
        InternalError,
        InvalidConfigError,
        InvalidTextError,
        RegistryFullError,
        LockTimeoutError,
    )
}
