"""The elements of a reply's one large JSON array, taken while the reply is still coming in.

Why: at 50,000 hosts a refresh's three large replies are 4-13 MB of JSON each, and Prometheus sends each one
over tens to hundreds of milliseconds (it compresses as it writes). Decoded only after its last byte, the last
reply's whole text was on the refresh's clock, and read twice: once to find the array's elements, once to
decode them. Here the bytes that came are cut into runs of whole elements as they come, and each run is decoded
once, while the rest is on its way.

How the cut is safe: the array's opening (`"result":[`) and the text between two of its elements
(`},{"metric":`) both hold an unescaped quote, which no JSON string can, so in a valid reply they are structure,
never text. Each run is decoded as a JSON array of its own (a run cut anywhere but between elements does not
decode), and at the end the reply's head and its tail (the last element and what closes the reply) are decoded
together as the whole reply would be. A reply that passes both is the reply the elements came from; any other
(an error, another layout, a cut that does not decode) is left to the caller's decoding of the whole text, which
`body()` gives back.
"""

from __future__ import annotations

# how far into a reply its array must open for the elements to be taken as they come; a reply laid out
# otherwise is decoded whole (the fallback, never an error of its own)
_HEAD_LIMIT = 4096
# bytes without a cut between elements (a target is under 1 KB) before the rest is left to the whole reply's
# decoding: kept as they come, they would be copied again with every chunk
_ELEMENT_LIMIT = 1 << 20


class ArrayStream:
    """Feed a reply's decoded bytes (`feed`): each call gives the elements whole so far, as the text of a run
    `E1,E2,...,Ek` (b"" when none); `tail()` gives what is left as a small reply of its own.

    `opening`: the array's key and bracket as they appear (b'"result":['); `first_key`: the key every element
    begins with (b"metric")."""

    __slots__ = ("_chunks", "_cut", "_head", "_opening", "_rest", "broken")

    def __init__(self, opening: bytes, first_key: bytes) -> None:
        self._opening = opening
        self._cut = b',{"' + first_key + b'":'
        self._chunks: list[bytes] = []
        self._head: bytes | None = None  # the reply up to and including the array's opening bracket
        self._rest = b""  # the bytes after the last whole element taken
        self.broken = False  # no more runs: the caller decodes the whole reply (body())

    def feed(self, chunk: bytes) -> bytes:
        """The run of elements this chunk completes, b"" when it completes none (or the stream is broken)."""
        self._chunks.append(chunk)
        if self.broken:
            return b""
        rest = self._rest + chunk
        if self._head is None:
            at = rest.find(self._opening)
            if at < 0:
                if len(rest) > _HEAD_LIMIT:
                    self.broken = True
                    self._rest = b""
                else:
                    self._rest = rest
                return b""
            end = at + len(self._opening)
            self._head, rest = rest[:end], rest[end:]
        cut = rest.rfind(self._cut)
        if cut < 0:
            if len(rest) > _ELEMENT_LIMIT:  # an element this long, or no element where one should be
                self.give_up()
            else:
                self._rest = rest
            return b""
        self._rest = rest[cut + 1 :]
        return rest[:cut]

    def elements(self, run: bytes) -> list[bytes]:
        """A run's elements, each its own JSON text."""
        first, *others = run.split(self._cut)
        opening = self._cut[1:]  # what the split took from the start of each element after the first
        return [first, *(opening + text for text in others)]

    def tail(self) -> bytes | None:
        """The head and the bytes after the last run: a reply of its own holding the array's last elements,
        to be decoded as the whole reply would be. None when the elements were not taken as they came."""
        if self.broken or self._head is None:
            return None
        return self._head + self._rest

    def body(self) -> bytes:
        """The whole reply, for decoding it the usual way (a broken stream, or a run or tail that did not
        decode)."""
        return b"".join(self._chunks)

    def give_up(self) -> None:
        """A run did not decode: take no more; the caller decodes `body()`."""
        self.broken = True
        self._rest = b""
