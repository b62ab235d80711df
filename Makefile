# Entry points. Every target sets up what it needs first (Debian packages, .venv).
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: setup test test-kernel sanity

setup:
	@scripts/setup

## The test command: unit and real-kernel tests, then ansible-test sanity.
test: setup
	python -m pytest
	scripts/sanity

test-kernel: setup
	python -m pytest tests/kernel

sanity: setup
	scripts/sanity
