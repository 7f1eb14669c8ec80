"""The program output of a PIE: the cells of its output builtin segment."""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.services.proof.pie import OUTPUT_BUILTIN, CairoPie, PieError, Relocatable

#: Starknet OS (>= 0.13.2) output layout: where the blob count sits (x_0 is the word before it).
N_BLOBS_OFFSET = 11
X_0_POINT_OFFSET = 10


def program_output(pie: CairoPie, *, aggregator: bool = False) -> list[int]:
    """Every cell of the output segment, in order; each must be an integer.

    With `aggregator`, the children's outputs that the aggregator program echoes are skipped
    (see `aggregator_own_output`).
    """
    segment = pie.builtin_segments.get(OUTPUT_BUILTIN)
    if segment is None:
        raise PieError("the PIE has no output builtin segment")
    output: list[int | None] = [None] * segment.size
    for offset, value in pie.segment(segment.index).items():
        if offset >= segment.size:
            raise PieError(f"output cell {offset} lies beyond the segment size {segment.size}")
        if isinstance(value, Relocatable):
            raise PieError(f"output cell {offset} holds a relocatable value, not an integer")
        output[offset] = value
    missing = [offset for offset, value in enumerate(output) if value is None]
    if missing:
        raise PieError(f"the output segment has {len(missing)} unset cells (first at offset {missing[0]})")
    words = [value for value in output if value is not None]
    return aggregator_own_output(words) if aggregator else words


def aggregator_own_output(output: Sequence[int]) -> list[int]:
    """The aggregator's own output within its full output.

    The aggregator program first echoes its inputs: `[n_children, size_1, ..., size_2, ...]` where
    each size counts its own word; its own output follows (Starknet OS layout: header, x_0,
    n_blobs, commitments and evaluations, then the L2->L1 and L1->L2 message segments, each
    prefixed by its length). Zeros padding the segment after the messages are dropped.
    """

    def word(index: int, what: str) -> int:
        if index >= len(output):
            raise PieError(f"aggregator output too short: no {what} at index {index}")
        return output[index]

    if not output:
        raise PieError("aggregator output is empty")
    start = 1
    for child in range(word(0, "child count")):
        start += word(start, f"size of child {child}")
    n_blobs = word(start + N_BLOBS_OFFSET, "blob count")
    messages_to_l1 = start + N_BLOBS_OFFSET + 4 * n_blobs + 1
    messages_to_l2 = messages_to_l1 + word(messages_to_l1, "L2->L1 message count") + 1
    end = messages_to_l2 + word(messages_to_l2, "L1->L2 message count")
    if end >= len(output):
        raise PieError(f"aggregator output too short: the messages end at {end}, the output has {len(output)}")
    return list(output[start : end + 1])
