# asgi.channels: the two commands a newcomer needs are `make demo` and `make test`.
# Everything else is a piece of `make test`, runnable alone.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
SCENARIO ?=

.PHONY: help setup engine images lint unit build-check importer sanity molecule browser-check test demo demo-destroy browser-test bench bench-capacity clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

setup: ## create .venv with the pinned toolchain (requirements.txt)
	@scripts/setup-venv.sh

engine: ## make sure a Docker engine answers (installs and starts Debian's docker.io if needed)
	@scripts/docker-engine.sh

images: engine ## build the Debian 12/13 systemd test images from Debian's archive (reused when built)
	@scripts/build-images.sh

lint: setup ## yamllint, ansible-lint (production profile), changelog fragments, the docs as the docsite renders them
	yamllint --strict .
	ansible-lint --strict
	antsibull-changelog lint
	cd collections/ansible_collections/asgi/channels && antsibull-docs lint-collection-docs --plugin-docs .

unit: setup ## unit tests: argument specs against defaults, plugins
	pytest tests/unit

build-check: setup ## build the collection, install it elsewhere, resolve roles/plugins/playbook by FQCN
	pytest tests/collection

importer: setup ## galaxy-importer on the built tarball (offline configuration)
	@scripts/importer.sh

sanity: setup ## ansible-test sanity on plugins/
	@scripts/sanity.sh

molecule: setup images ## every Molecule scenario (or SCENARIO=name), in parallel lanes
	@scripts/molecule-all.sh $(SCENARIO)

browser-check: setup images ## browser-test on its own container and port, removed afterwards (part of test)
	@DEMO_CONTAINER=asgi-channels-browser-check DEMO_PORT=$${BROWSER_CHECK_PORT:-18080} BROWSER_TEST_CLEANUP=1 \
		scripts/browser-test.sh

test: setup images ## the whole suite, as CI runs it: lint unit build-check importer sanity browser-check beside molecule
	@scripts/test.sh

demo: setup images ## deploy the whole stack into a local container and print its URL
	@scripts/demo.sh up

demo-destroy: ## remove the demo container
	@scripts/demo.sh down

browser-test: setup images ## the demo, proven in Debian's headless Chromium: two pages, one chat
	@scripts/browser-test.sh

bench: setup images ## benchmark comparison: the same load on every scripts/bench/configs/ file without a load of its own (~70 min; docs/benchmark.md)
	@scripts/bench.sh $(BENCH_ARGS)

bench-capacity: setup images ## the marks' run: 40,000 WebSockets, a broadcast to 10,000 (scripts/bench/configs/capacity.yml, ~20 min)
	@scripts/bench.sh --only capacity $(BENCH_ARGS)

clean: ## remove build output (keeps .venv and the images)
	rm -rf build .cache/logs tests/output
