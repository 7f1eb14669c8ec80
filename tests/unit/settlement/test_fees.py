from __future__ import annotations

from orchestrator.clients.settlement.fees import Fees, bumped_fees, gas_multiplier_label, initial_fees


def test_first_attempt_follows_the_reference_policy() -> None:
    fees = initial_fees(base_fee=10 * 10**9 + 1, blob_base_fee=7)
    assert fees.max_priority_fee_per_gas == 200_000_000
    assert fees.max_fee_per_gas == 22_000_000_003 + 200_000_000  # ceil(2 * base * 1.1) + priority
    assert fees.max_fee_per_blob_gas == 8  # ceil(7 * 1.1)


def test_replacement_takes_the_larger_of_fresh_and_2_1x() -> None:
    previous = Fees(max_fee_per_gas=100, max_priority_fee_per_gas=10, max_fee_per_blob_gas=3)
    calm = bumped_fees(previous, Fees(50, 5, 1))
    assert calm == Fees(210, 21, 7)  # ceil(3 * 2.1) = 7
    spike = bumped_fees(previous, Fees(1000, 5, 50))
    assert spike == Fees(1000, 21, 50)


def test_max_cost_counts_gas_and_blob_gas() -> None:
    assert Fees(3, 1, 2).max_cost(gas_limit=1_500_000, n_blobs=2) == 3 * 1_500_000 + 2 * 131_072 * 2


def test_multiplier_labels() -> None:
    assert [gas_multiplier_label(i) for i in range(3)] == ["1.10", "2.20", "4.40"]
