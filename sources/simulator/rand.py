"""Cheap deterministic randomness: a per-item stream derived from ``(seed, salt, index)``.

Seeding ``random.Random`` costs microseconds, too slow to do once per item for a million leads. Instead
every stream reads a window of one shared, fixed table of uniform floats, starting at an offset hashed
from its key. Same key, same values, in any process.
"""

import random
import zlib
from array import array
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

_BITS = 18
_SIZE = 1 << _BITS
_MASK = _SIZE - 1


def _table() -> array:
    draw = random.Random(0x1A57A17).random
    return array("d", [draw() for _ in range(_SIZE)])


_TABLE = _table()
_M64 = (1 << 64) - 1


def mix64(*parts: int) -> int:
    """A 64-bit hash of integers (splitmix64 finaliser folded over the parts); slower, stronger."""
    h = 0x9E3779B97F4A7C15
    for part in parts:
        h = (h ^ (part & _M64)) * 0xBF58476D1CE4E5B9 & _M64
        h = (h ^ (h >> 31)) * 0x94D049BB133111EB & _M64
        h ^= h >> 29
    return h


def unit(index: int, key: int) -> float:
    """A float in [0, 1) for ``(index, key)`` without building a stream (cheap; for timelines)."""
    return _TABLE[(index * 0x9E3779B1 + key) & _MASK]


def salt(text: str) -> int:
    """A stable integer for a name (``hash()`` of a str is randomised per process)."""
    return zlib.crc32(text.encode("utf-8"))


class Rng:
    """A stream of floats in [0, 1) read from the shared table; small helpers on top."""

    __slots__ = ("p",)

    def __init__(self, *key: int) -> None:
        # hash() of a tuple of ints is not randomised per process (only str/bytes hashing is)
        self.p = hash(key) & _MASK

    def random(self) -> float:
        p = self.p
        self.p = p + 1
        return _TABLE[p & _MASK]

    def chance(self, probability: float) -> bool:
        return self.random() < probability

    def below(self, n: int) -> int:
        """An int in [0, n)."""
        return int(self.random() * n)

    def between(self, low: int, high: int) -> int:
        """An int in [low, high] (both inclusive)."""
        return low + int(self.random() * (high - low + 1))

    def choice(self, seq: Sequence[T]) -> T:
        return seq[int(self.random() * len(seq))]

    def sample(self, seq: Sequence[T], k: int) -> list[T]:
        """``k`` distinct elements of ``seq`` in their original order."""
        k = min(k, len(seq))
        picked: list[T] = []
        remaining = len(seq)
        for element in seq:
            if k and self.random() * remaining < k:
                picked.append(element)
                k -= 1
            remaining -= 1
        return picked

    def bits(self, n: int) -> int:
        """``n`` random bits (n <= 52 per table draw; more draws for larger n)."""
        value = 0
        while n > 0:
            take = min(n, 48)
            value = (value << take) | int(self.random() * (1 << take))
            n -= take
        return value
