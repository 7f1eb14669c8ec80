"""Fee policy of blob settlement transactions (the reference's numbers).

First attempt: priority fee 0.2 gwei, max fee = ceil(2 * base fee * 1.1) + priority,
blob fee = ceil(blob base fee * 1.1). Each replacement: every cap is
max(fresh estimate, ceil(previous * 2.1)), which clears the node's replacement rules (+10% for
execution fees, x2 for blob fees). Integer arithmetic throughout: no float rounding in wei.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PRIORITY_FEE_WEI = 200_000_000  # 0.2 gwei
GAS_PER_BLOB = 131_072
#: The reference's fixed gas limit for updateStateKzgDA.
DEFAULT_GAS_LIMIT = 1_500_000


def _ceil_ratio(value: int, numerator: int, denominator: int) -> int:
    return -(-value * numerator // denominator)


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    max_fee_per_blob_gas: int

    def max_cost(self, gas_limit: int, n_blobs: int) -> int:
        """The most the transaction can cost in wei: what the fee cap is checked against."""
        return gas_limit * self.max_fee_per_gas + n_blobs * GAS_PER_BLOB * self.max_fee_per_blob_gas


def initial_fees(base_fee: int, blob_base_fee: int, priority_fee: int = DEFAULT_PRIORITY_FEE_WEI) -> Fees:
    return Fees(
        max_fee_per_gas=_ceil_ratio(base_fee, 22, 10) + priority_fee,
        max_priority_fee_per_gas=priority_fee,
        max_fee_per_blob_gas=max(1, _ceil_ratio(blob_base_fee, 11, 10)),
    )


def bumped_fees(previous: Fees, fresh: Fees) -> Fees:
    def bump(prev: int, now: int) -> int:
        return max(now, _ceil_ratio(prev, 21, 10))

    priority = bump(previous.max_priority_fee_per_gas, fresh.max_priority_fee_per_gas)
    return Fees(
        # The max fee must stay >= the priority fee it carries.
        max_fee_per_gas=max(bump(previous.max_fee_per_gas, fresh.max_fee_per_gas), priority),
        max_priority_fee_per_gas=priority,
        max_fee_per_blob_gas=bump(previous.max_fee_per_blob_gas, fresh.max_fee_per_blob_gas),
    )


def gas_multiplier_label(bump_no: int) -> str:
    """The informational multiplier the reference records per attempt: 1.10, 2.20, 4.40, ..."""
    return f"{1.1 * 2**bump_no:.2f}"
