"""Fixtures of the indicator tests: the hand-built population of tests/indicators/helpers.py."""

import pytest

from app.common.time import frozen
from tests.indicators import helpers as h
from tests.indicators.helpers import NOON_D


@pytest.fixture
def pop(app, world):
    """The population, with the clock at noon of the evaluation day D (files may override)."""
    with app.app_context():
        population = h.build(world)
    with frozen(NOON_D):
        yield population
