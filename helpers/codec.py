"""The old name of :mod:`helpers.session.codec` (plain data to JSON and back, by type name)."""

from __future__ import annotations

from .session.codec import (
    TAG,
    decode,
    decode_error,
    encode,
    encode_error,
    find_type,
    register,
    type_name,
)

__all__ = ["TAG", "decode", "decode_error", "encode", "encode_error", "find_type", "register",
           "type_name"]
