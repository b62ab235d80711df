"""Unit tests: no root, no namespaces. Under plain pytest (make test) tests/support.py makes the checkout importable as
ansible_collections.linuxns.net; ansible-test units does that itself (its collections plugin), so nothing is done there."""

import os

if "ansible_pytest_collections" not in os.environ.get("PYTEST_PLUGINS", ""):
    import support  # noqa: F401  pylint: disable=unused-import
