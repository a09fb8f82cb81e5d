"""A 64-bit simhash (Charikar) of a text's word 3-grams: every shingle of three consecutive
lower-cased words (split on whitespace) is a 64-bit feature, weighted by how often it occurs, and
bit ``i`` of the result is set when more than half of the shingles have it. Texts that differ in
a few words differ in a few bits; :data:`NEAR_BITS` is the Hamming distance ``scraper dupes
--near`` calls near, and :func:`bands` the four 16-bit slices it indexes (two hashes within 3 bits
agree on at least one band: pigeonhole).

Cheap by construction (about 0.1 ms for 1,000 words): each distinct word is hashed once per
process (blake2b, 8 bytes, memoized); a shingle's feature is ``h(w0) ^ T(h(w1)) ^ (h(w2) shifted
one byte)``, computed for all shingles at once as big-integer operations on the packed word hashes
(``T``: a fixed byte permutation, so the feature depends on word order); the bit counts are
``bytes.translate`` + ``count`` per bit over the packed features. No Python step per shingle.
Only the first :data:`MAX_WORDS` words count (bounded time on huge pages).
"""

import hashlib
import random

NEAR_BITS = 3
BANDS = 4
MAX_WORDS = 5000
_LANE = 8  # bytes per feature
_MEMO_MAX = 200_000
_SAMPLED_BELOW = 64  # a word whose hash's first byte is under this is sampled: 1 in 4
# A fixed permutation of byte values (seeded: the same in every process and release).
_ORDER = list(range(256))
random.Random(29).shuffle(_ORDER)
_PERMUTED = bytes(_ORDER)
# _BIT[k][x] is 1 when bit k of byte x is set: bytes.translate + count does one bit of all hashes.
_BIT = [bytes((x >> k) & 1 for x in range(256)) for k in range(8)]


class _Memo(dict[str, bytes]):
    """word -> its 8-byte hash if the word is sampled, else b""; a bounded cache of a pure
    function, per process."""

    def __missing__(self, word: str) -> bytes:
        digest = hashlib.blake2b(word.encode("utf-8", "replace"), digest_size=8).digest()
        if digest[0] >= _SAMPLED_BELOW:
            digest = b""
        if len(self) < _MEMO_MAX:
            self[word] = digest
        return digest


_MEMO = _Memo()


def _features(words: list[str]) -> bytes:
    """The packed 8-byte features of the text's 3-gram shingles (one per word for 1-2 words)."""
    packed = b"".join(map(_MEMO.__getitem__, words))
    if len(packed) < 3 * _LANE:
        return packed
    first = int.from_bytes(packed, "little")
    second = int.from_bytes(packed.translate(_PERMUTED), "little") >> (8 * _LANE)
    third = first >> (8 * (2 * _LANE + 1))
    mixed = first ^ second ^ third
    return mixed.to_bytes(len(packed), "little")[: len(packed) - 2 * _LANE]


def simhash(text: str) -> int:
    """The text's simhash as an unsigned 64-bit int (0 for a text without words)."""
    words = text.lower().split(maxsplit=MAX_WORDS)[:MAX_WORDS]
    if not words:
        return 0
    packed = _features(words)
    half = len(packed) / (2 * _LANE)
    value = 0
    for j in range(_LANE):
        column = packed[j::_LANE]
        for k in range(8):
            if column.translate(_BIT[k]).count(1) > half:
                value |= 1 << (j * 8 + k)
    return value


def signed(value: int) -> int:
    """An unsigned 64-bit value as the signed integer SQL stores (INTEGER, bigint)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def bands(value: int) -> tuple[int, ...]:
    """The four 16-bit slices of a 64-bit simhash, lowest first."""
    return tuple((value >> (16 * i)) & 0xFFFF for i in range(BANDS))


def distance(a: int, b: int) -> int:
    """Hamming distance of two 64-bit hashes (signed or not)."""
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()
