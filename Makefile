# jobd — the two set-up commands are `make run` and `make test` (see README.md).
SWIFT ?= swift
PREFIX ?= /usr/local
STATE_DIR ?= $(or $(XDG_STATE_HOME),$(HOME)/.local/state)/jobd

.PHONY: deps build release run test bench install clean

# What the build needs from the system: SQLite's headers (GRDB links the system libsqlite3), and the
# reference varlink client that the interoperability test drives jobd with; the sqlite3 shell, with which
# tests read the database file as a restart would find it. Installed only if missing.
deps:
	@dpkg -s libsqlite3-dev sqlite3 >/dev/null 2>&1 || { \
	  echo "installing libsqlite3-dev sqlite3"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq libsqlite3-dev sqlite3; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq libsqlite3-dev sqlite3; fi; }
	@python3 -c 'import varlink' 2>/dev/null || python3 -m pip install -q varlink==31.0.0 \
	  || echo "note: python varlink not installed; its interoperability test will say so"

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --static-swift-stdlib

# Builds and runs the daemon in the foreground on its embedded default database ($(STATE_DIR)/jobd.db).
run: release
	.build/release/jobd

# Every test: unit, daemon integration, varlink interoperability.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

# The figures of ../shared/PEERS.md, against a release build; not part of the tests.
bench: release
	.build/release/jobd-bench --bin-dir .build/release

install: release
	install -m 0755 .build/release/jobd .build/release/jobctl $(PREFIX)/bin/

clean:
	rm -rf .build
