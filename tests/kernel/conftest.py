"""The real-kernel tests: the shared fixtures (tests/fixtures.py)."""

# pylint: disable-next=unused-import
from fixtures import netns, netns_module, nothing_left_behind, nsname, record, root_and_cleanup  # noqa: F401
