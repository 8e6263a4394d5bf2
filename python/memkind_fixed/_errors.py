"""Exceptions: one check() maps the library's status codes to them."""

from __future__ import annotations

import errno as _errno
import operator
from typing import NoReturn, Optional

from ._native import ffi, lib

__all__ = ["MemkindError", "OutOfMemoryError", "error_message"]


_INT_BITS = 8 * ffi.sizeof("int")


def error_message(code: int) -> str:
    """The library's sentence for a status code (negative MEMKIND_ERROR_* or errno).

    TypeError unless code is an int (not a bool); ValueError outside a C int.
    """
    try:
        if isinstance(code, bool):
            raise TypeError
        code = operator.index(code)
    except TypeError:
        raise TypeError(f"code must be an integer, not {type(code).__name__}") from None
    if not -(1 << (_INT_BITS - 1)) <= code < 1 << (_INT_BITS - 1):
        raise ValueError(f"{code} is no status code (outside a C int)")
    buf = ffi.new("char[]", lib.MEMKIND_ERROR_MESSAGE_SIZE)
    lib.memkind_error_message(code, buf, len(buf))
    return str(ffi.string(buf).decode("utf-8", "replace"))


class MemkindError(Exception):
    """An operation of the library failed.

    `code` is the C status: a negative MEMKIND_ERROR_* value, or a positive errno
    value (ENOMEM, EINVAL) from an allocation function. `message` is the
    library's text for it (memkind_error_message()).
    """

    code: int
    message: str

    def __init__(self, code: int, context: Optional[str] = None) -> None:
        self.code = code
        self.message = error_message(code)
        self.context = context
        text = f"{context}: {self.message}" if context else self.message
        super().__init__(f"{text} (code {code})")


class OutOfMemoryError(MemkindError, MemoryError):
    """The kind's region cannot serve the request (errno ENOMEM).

    Also a MemoryError. The kind keeps working: memory freed later serves new
    requests of any size.
    """


def raise_for(code: int, context: Optional[str] = None) -> NoReturn:
    if code == _errno.ENOMEM:
        raise OutOfMemoryError(code, context)
    raise MemkindError(code, context)


def check(code: int, context: Optional[str] = None) -> None:
    """Raise for a non-zero status code."""
    if code != 0:
        raise_for(code, context)
