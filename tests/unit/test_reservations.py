"""The index job's CPU reservations fit beside a running service on one machine."""

import pytest

from batch_jobs.index_videos import fit_reservations


def test_enough_free_cpus_keeps_the_configured_reservations():
    assert fit_reservations(1.0, 1.0, free_cpus=4.0, nodes=1) == (1.0, 1.0)


def test_a_service_holding_cpus_shrinks_them_to_fit():
    decode, embed = fit_reservations(1.0, 1.0, free_cpus=1.45, nodes=1)
    assert decode + embed <= 1.45 and decode == pytest.approx(embed)


def test_a_cluster_of_several_nodes_is_left_to_its_autoscaler():
    assert fit_reservations(1.0, 1.0, free_cpus=0.5, nodes=3) == (1.0, 1.0)
