import pytest

from tests.conftest import CLI_ENV as ENV, TINY_DIGITS, run_cli as run  # noqa: F401


@pytest.fixture(scope="session")
def trained_run(converted_run):
    """A tiny MSDNet trained on digits, evaluated with a FLOPs budget, converted to float."""
    return converted_run
