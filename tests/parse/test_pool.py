"""The parse pool's size: what parse_workers says, or "auto" from the CPUs and what is parsed."""

import os

import pytest

from scraper.parse import pool_size


@pytest.mark.parametrize(
    ("cpus", "content", "expected"),
    [
        *[(1, True, 1), (2, True, 2), (3, True, 2), (4, True, 3), (64, True, 3)],
        *[(1, False, 1), (2, False, 1), (64, False, 1)],
    ],
)
def test_auto_sizes_the_pool_from_the_cpus_and_the_content(cpus, content, expected):
    """Auto gives one process for links and text alone; with main content, 2 to 3 by CPUs."""
    assert pool_size(None, content, cpus) == expected


def test_a_number_is_taken_as_given():
    """An explicit parse_workers wins whatever the CPUs and settings (0: parse inline)."""
    assert [pool_size(n, True, 2) for n in (0, 1, 5)] == [0, 1, 5]
    assert pool_size(4, False, 1) == 4


def test_auto_reads_the_cpus_this_process_may_use():
    """Without a CPU count, auto uses this process's CPU affinity."""
    cpus = len(os.sched_getaffinity(0))
    assert pool_size(None, True) == pool_size(None, True, cpus)
