"""Item ids that carry their own position: UUIDv7 (or v4 for legacy items, or a 24-hex ObjectId for
background jobs) with the index in the low bits.

The low 32 bits of every id are a keyed, invertible scramble of the item's index, so a cursor id is
turned back into a position in O(1) without an id -> index dictionary; the caller then regenerates the
id for that index and compares, which rejects ids that were never issued.
"""

import re

from .rand import mix64

_M32 = 0xFFFFFFFF
_MUL = 0x9E3779B1  # odd, so invertible modulo 2**32
_MUL_INV = pow(_MUL, -1, 1 << 32)
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_OBJECT_ID_RE = re.compile(r"^[0-9a-f]{24}$")


class IdCodec:
    """Makes and decodes the ids of one entity of one world (``key``: world seed, entity salt)."""

    __slots__ = ("key", "_k1", "_k2")

    def __init__(self, seed: int, entity_salt: int) -> None:
        key = self.key = (seed, entity_salt)
        self._k1 = mix64(*key, 1) & _M32
        self._k2 = mix64(*key, 2) & _M32

    def _scramble(self, index: int) -> int:
        return (((index ^ self._k1) * _MUL) & _M32) ^ self._k2

    def _unscramble(self, low: int) -> int:
        return (((low ^ self._k2) * _MUL_INV) & _M32) ^ self._k1

    def v7(self, index: int, unix_ms: int) -> str:
        """A UUIDv7 for ``index`` created at ``unix_ms``: time-ordered, index in the low 32 bits."""
        k0, k1 = self.key
        noise = hash((k0, k1, index, 3))
        t = unix_ms & 0xFFFFFFFFFFFF
        return (
            f"{t >> 16:08x}-{t & 0xFFFF:04x}-7{noise & 0xFFF:03x}-{0x8000 | (noise >> 12) & 0x3FFF:04x}-"
            f"{(noise >> 26) & 0xFFFF:04x}{self._scramble(index):08x}"
        )

    def v4(self, index: int) -> str:
        """A random-looking UUIDv4 (legacy ids, not time-ordered), index in the low 32 bits."""
        k0, k1 = self.key
        a = hash((k0, k1, index, 4)) & 0xFFFFFFFFFFFFFFFF
        b = hash((k0, k1, index, 5))
        return (
            f"{a >> 32:08x}-{(a >> 16) & 0xFFFF:04x}-4{a & 0xFFF:03x}-{0x8000 | b & 0x3FFF:04x}-"
            f"{(b >> 14) & 0xFFFF:04x}{self._scramble(index):08x}"
        )

    def object_id(self, index: int, unix_ms: int) -> str:
        """A MongoDB-style ObjectId: creation seconds (8 hex), noise (8 hex), index (8 hex)."""
        k0, k1 = self.key
        noise = hash((k0, k1, index, 6)) & _M32
        return f"{(unix_ms // 1000) & _M32:08x}{noise:08x}{self._scramble(index):08x}"

    def index_of(self, text: str) -> int | None:
        """The index encoded in an id, or None when ``text`` is not a UUID or an ObjectId. Verify by
        regenerating."""
        if not isinstance(text, str) or not (_UUID_RE.match(text) or _OBJECT_ID_RE.match(text)):
            return None
        return self._unscramble(int(text[-8:], 16))


def _format(value: int) -> str:
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def random_uuid(noise: int) -> str:
    """A v4-shaped id from 64+ bits of noise (for references that are not items of the world)."""
    value = (mix64(noise, 11) << 64 | mix64(noise, 12)) & ((1 << 128) - 1)
    value = (value & ~(0xF << 76) & ~(0b11 << 62)) | 0x4 << 76 | 0b10 << 62
    return _format(value)
