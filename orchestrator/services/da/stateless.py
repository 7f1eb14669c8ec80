"""Stateless felt compression, version 0 (StarkWare's bucket scheme, used from Starknet 0.13.3).

Layout of `compress(data)`:
1. a header felt packing, 20 bits each: version (0), len(data), the sizes of the six unique-value
   buckets (252, 125, 83, 62, 31, 15 bits) and the number of repeated values;
2. the unique values of each bucket, in that bucket order, in first-seen order, packed
   `251 // bits` per felt from the low bits up (252-bit values take a felt each);
3. for each repeated value, a pointer into the concatenated unique values, packed with bound
   max(n_unique, 1);
4. for each input element its bucket index (0 = 252-bit ... 5 = 15-bit, 6 = repeated), packed
   with bound 7.
A value goes to the smallest bucket that holds its bit length; a value seen before (same bucket)
is "repeated". `decompress` is the exact inverse.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

COMPRESSION_VERSION = 0
HEADER_ELM_N_BITS = 20
HEADER_ELM_BOUND = 1 << HEADER_ELM_N_BITS
MAX_N_BITS = 251
# Unique-value buckets in header / packing order: widest first.
BUCKET_BITS = (252, 125, 83, 62, 31, 15)
N_UNIQUE_BUCKETS = len(BUCKET_BITS)
REPEATING_BUCKET = N_UNIQUE_BUCKETS
TOTAL_N_BUCKETS = N_UNIQUE_BUCKETS + 1
HEADER_LEN = 1 + 1 + N_UNIQUE_BUCKETS + 1


class CompressionError(ValueError):
    pass


def _bucket_of(value: int) -> int:
    n_bits = value.bit_length()
    for index in range(N_UNIQUE_BUCKETS - 1, -1, -1):
        if n_bits <= BUCKET_BITS[index]:
            return index
    raise CompressionError(f"value {value:#x} needs {n_bits} bits, more than a felt")


def _elems_per_felt(elm_bound: int) -> int:
    if elm_bound <= 1:
        return MAX_N_BITS
    return MAX_N_BITS // (elm_bound - 1).bit_length()


def pack_in_felt(elms: Sequence[int], elm_bound: int) -> int:
    packed = 0
    for i, elm in enumerate(elms):
        if not 0 <= elm < elm_bound:
            raise CompressionError(f"element {elm} is not below its bound {elm_bound}")
        packed += elm * elm_bound**i
    return packed


def pack_in_felts(elms: Sequence[int], elm_bound: int) -> list[int]:
    per_felt = _elems_per_felt(elm_bound)
    return [pack_in_felt(elms[i : i + per_felt], elm_bound) for i in range(0, len(elms), per_felt)]


def _pack_bucket(values: Sequence[int], n_bits: int) -> list[int]:
    if n_bits > MAX_N_BITS:
        return list(values)
    return pack_in_felts(values, 1 << n_bits)


def compress(data: Sequence[int]) -> list[int]:
    if len(data) >= HEADER_ELM_BOUND:
        raise CompressionError(f"data is too long: {len(data)} >= {HEADER_ELM_BOUND}")
    buckets: list[dict[int, int]] = [{} for _ in BUCKET_BITS]  # value -> index, insertion-ordered
    repeating: list[tuple[int, int]] = []  # (bucket, index in bucket)
    bucket_index_per_elm: list[int] = []
    for value in data:
        bucket = _bucket_of(value)
        index = buckets[bucket].get(value)
        if index is None:
            buckets[bucket][value] = len(buckets[bucket])
            bucket_index_per_elm.append(bucket)
        else:
            repeating.append((bucket, index))
            bucket_index_per_elm.append(REPEATING_BUCKET)

    lengths = [len(b) for b in buckets]
    offsets = [sum(lengths[:i]) for i in range(N_UNIQUE_BUCKETS)]
    n_unique = sum(lengths)
    header = [COMPRESSION_VERSION, len(data), *lengths, len(repeating)]
    if not data:
        return [pack_in_felt(header, HEADER_ELM_BOUND)]
    out = [pack_in_felt(header, HEADER_ELM_BOUND)]
    for values, n_bits in zip(buckets, BUCKET_BITS, strict=True):
        out += _pack_bucket(list(values), n_bits)
    out += pack_in_felts([offsets[b] + i for b, i in repeating], max(n_unique, 1))
    out += pack_in_felts(bucket_index_per_elm, TOTAL_N_BUCKETS)
    return out


def _unpack(stream: Iterator[int], n_elms: int, elm_bound: int) -> list[int]:
    per_felt = _elems_per_felt(elm_bound)
    out: list[int] = []
    while len(out) < n_elms:
        felt = _next(stream)
        for _ in range(min(per_felt, n_elms - len(out))):
            felt, elm = divmod(felt, elm_bound)
            out.append(elm)
        if felt:
            raise CompressionError("packed felt holds more data than its header announces")
    return out


def _next(stream: Iterator[int]) -> int:
    try:
        return next(stream)
    except StopIteration:
        raise CompressionError("compressed data ends early") from None


def decompress(compressed: Sequence[int]) -> list[int]:
    stream = iter(compressed)
    version, data_len, *rest = _unpack(stream, HEADER_LEN, HEADER_ELM_BOUND)
    if version != COMPRESSION_VERSION:
        raise CompressionError(f"unsupported compression version {version}")
    lengths, n_repeating = rest[:N_UNIQUE_BUCKETS], rest[N_UNIQUE_BUCKETS]
    unique: list[int] = []
    for length, n_bits in zip(lengths, BUCKET_BITS, strict=True):
        if n_bits > MAX_N_BITS:
            unique += [_next(stream) for _ in range(length)]
        else:
            unique += _unpack(stream, length, 1 << n_bits)
    pointers = _unpack(stream, n_repeating, max(len(unique), 1))
    if any(p >= len(unique) for p in pointers):
        raise CompressionError("a repeated-value pointer is out of range")
    all_values = unique + [unique[p] for p in pointers]
    bucket_index_per_elm = _unpack(stream, data_len, TOTAL_N_BUCKETS)

    next_in_bucket = [sum(lengths[:i]) for i in range(N_UNIQUE_BUCKETS)] + [len(unique)]
    ends = [*next_in_bucket[1:], len(all_values)]
    out = []
    for bucket in bucket_index_per_elm:
        position = next_in_bucket[bucket]
        if position >= ends[bucket]:
            raise CompressionError(f"bucket {bucket} has fewer values than its elements")
        out.append(all_values[position])
        next_in_bucket[bucket] += 1
    if next(stream, None) is not None:
        raise CompressionError("trailing data after the compressed payload")
    return out
