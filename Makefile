# Entry points. Every target sets up what it needs first (Debian packages, .venv).
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: setup bench bench-quick demo demo-down inspect test test-kernel molecule sanity units integration managed-pythons support-range release-checks docs build lab-up lab-down

setup:
	@scripts/setup

## The main job: a three-host lab fleet on this machine, fleet.yml over SSH, subnets, ping matrix, timings.
demo: setup
	@scripts/collections >/dev/null
	python scripts/demo.py $(if $(SEGMENTS),--segments $(SEGMENTS))

demo-down: setup
	python scripts/demo.py --down

inspect: setup
	ANSIBLE_COLLECTIONS_PATH=$$(scripts/collections) ansible-playbook -i /run/linuxns-lab/lndemo/inventory.yml playbooks/inspect.yml

## Benchmarks against an ip script, an ip-loops playbook, the CNI bridge plugin and netavark, in lab hosts, and fleet.yml
## from 32 to 256 lab hosts beside Ansible's floor, and Docker and podman creating containers; results to bench/results/
## and docs/benchmarks/.
bench: setup
	@scripts/setup bench
	@python scripts/demo.py --make-room
	ANSIBLE_COLLECTIONS_PATH=$$(scripts/collections) python bench/run.py --publish $(BENCH_ARGS)
	ANSIBLE_COLLECTIONS_PATH=$$(scripts/collections) python bench/lab.py
	ANSIBLE_COLLECTIONS_PATH=$$(scripts/collections) python bench/fleet_scale.py
	python bench/peers.py
	python bench/reachability.py

## The same benchmarks at CI size (N 10 and 50, one repeat, fleets of 1 and 4 hosts; about 5 minutes), not published.
bench-quick: setup
	@scripts/setup bench
	@python scripts/demo.py --make-room
	ANSIBLE_COLLECTIONS_PATH=$$(scripts/collections) python bench/run.py --quick $(BENCH_ARGS)

## The test command: unit, real-kernel and lab-fleet tests, the molecule scenarios, a user's repository with a
## molecule scenario on the installed tarball, ansible-test sanity, units (checkout and tarball) and integration, the
## modules on the managed nodes' other Pythons, the publishing checks and the docs site, and the unit, kernel and
## sanity tests and ansible-test units on the older supported ansible-cores (scripts/checks: two lanes at once).
test: setup
	@python scripts/demo.py --make-room
	scripts/main-suite
	scripts/sample-user-test
	@scripts/setup release
	scripts/checks

test-kernel: setup
	python -m pytest tests/kernel

molecule: setup
	@python scripts/demo.py --make-room
	scripts/molecule test --all

sanity: setup
	scripts/sanity

## ansible-test units from the checkout and from the installed tarball
units: setup
	scripts/units
	scripts/units --tarball

## ansible-test integration --allow-destructive: a target per module, each in namespaces of its own
integration: setup
	scripts/integration

## the integration targets with the managed nodes' Pythons 3.9 (pyroute2 0.9.3), 3.10 and 3.13
managed-pythons: setup
	scripts/managed-pythons

support-range: setup
	scripts/support-range

## changelog lint, ansible-lint (production), the tarball's contents, galaxy-importer, ansible-builder introspect
release-checks:
	@scripts/setup release
	scripts/release-checks

## The HTML docs site (docs/build/build/html), built offline with antsibull-docs
docs:
	@scripts/setup release
	scripts/docs

## The collection tarball, as it would be published
build:
	@scripts/setup release
	.venv-release/bin/ansible-galaxy collection build --force --output-path dist .

lab-up: setup
	scripts/lab up --hosts $(or $(HOSTS),3) $(if $(SEGMENTS),--segments $(SEGMENTS))

lab-down:
	scripts/lab down
