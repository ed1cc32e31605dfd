"""Fixtures of the contract tests."""

import pytest

from tests.contracts.helpers import make_packages


@pytest.fixture
def pk(api, world):
    """The demo packages, published: {"basic": id, ...}."""
    return {k: v["id"] for k, v in make_packages(api, world).items()}
