# homelab-ingress: the table of contents. `make` runs every step in order.
#   make                      01 -> 04, stops at the first failure
#   make 02-traefik           one step
#   make from STEP=02         resume at a step
#   make render / dry-run     see what would be applied, change nothing
#   make teardown [PURGE=1]   remove it all (PURGE=1 also deletes the acme.json volume)
#   make demo                 the whole flow on the local test cluster, ending in 04-verify's report
#   make test                 every test; the integration tests run on the local test cluster
#   make cluster-down         stop the local test cluster
# ENV_FILE=path picks another env file; ARGS="..." passes extra flags (e.g. ARGS=--context=homelab).
# Every target first runs `npm ci` when node_modules is missing or older than package-lock.json.

ENV_FILE ?=
ARGS     ?=
STEP     ?=
OUT      ?= out/rendered
FLAGS    := $(if $(ENV_FILE),--env-file $(ENV_FILE)) $(ARGS)

# The kit runs on the Node that `npm ci` installs into node_modules (package.json pins it, for
# Linux x64 and arm64), whatever Node the machine has: recipes find node_modules/.bin first.
# npm ci itself runs on the machine's Node, since it replaces node_modules.
MACHINE_PATH := $(PATH)
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
# Node keeps the type-stripped .ts files and their compiled code here: start-up needs a third of the CPU.
export NODE_COMPILE_CACHE ?= $(CURDIR)/node_modules/.cache/node-compile-cache
# The scripts run on plain node (they import zx's `$`; the zx CLI would only add its start-up time).
RUN      := node
# Where test/cluster/cluster.sh caches the test cluster's binaries.
CLUSTER_CACHE := $(or $(HOMELAB_INGRESS_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/homelab-ingress)

.PHONY: all node-version 01-metallb 02-traefik 03-internal-routes 04-verify from render dry-run \
        teardown test test-packages demo cluster-build cluster-up cluster-down bench

all: node-version
	$(RUN) scripts/run-all.ts $(FLAGS)

# npm writes node_modules/.package-lock.json on every install: older than the lockfile means stale.
node_modules/.package-lock.json: package-lock.json
	@echo "==> npm ci (node_modules is missing or older than package-lock.json)"
	@PATH="$(MACHINE_PATH)" npm ci --no-audit --no-fund
	@touch $@

# Node >= 22.18 runs the .ts scripts directly. The pinned Node always does; this catches a machine
# where npm ci had no Node to install (another OS or CPU) and the machine's own is older, which
# would otherwise fail with a puzzling ERR_UNKNOWN_FILE_EXTENSION.
node-version: node_modules/.package-lock.json
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<22||(a===22&&b<18)) { console.error("ERROR: Node "+process.versions.node+" ("+process.execPath+") is too old: homelab-ingress needs Node >= 22.18. On Linux x64/arm64 npm ci installs Node 24 into node_modules (rerun npm ci if node_modules/.bin/node is missing); elsewhere install Node 24 LTS."); process.exit(2) }'

01-metallb 02-traefik 03-internal-routes 04-verify: node-version
	$(RUN) scripts/$@.ts $(FLAGS)

from: node-version
	@test -n "$(STEP)" || { echo "ERROR: STEP is required, e.g. make from STEP=02" >&2; exit 2; }
	$(RUN) scripts/run-all.ts --from $(STEP) $(FLAGS)

render: node-version
	$(RUN) scripts/render.ts --out $(OUT) $(FLAGS)

dry-run: node-version
	$(RUN) scripts/run-all.ts --dry-run $(FLAGS)

teardown: node-version
	$(RUN) scripts/99-teardown.ts $(if $(PURGE),--purge) $(FLAGS)

# The test cluster (test/cluster/): a real control plane, kwok nodes, MetalLB's controller, helm.
# Its binaries are built once from Go modules (Go >= 1.26) and cached per version.
cluster-build:
	@bash test/cluster/cluster.sh built || { \
	  echo "==> Building the test cluster's binaries from Go modules into $(CLUSTER_CACHE)/bin: etcd, Kubernetes,"; \
	  echo "    kwok, MetalLB, helm, and the real Traefik and Pebble that make demo and the tests run behind the"; \
	  echo "    loopback addresses. The first time takes about 20-25 minutes on 2 idle cores (Traefik alone about"; \
	  echo "    8-9) and ~13 GB of Go caches, longer on a busy machine; progress every 30 s. Later runs take a second."; \
	  bash test/cluster/cluster.sh build; }

cluster-up: cluster-build
	@bash test/cluster/cluster.sh up >/dev/null

cluster-down:
	bash test/cluster/cluster.sh down

# Debian packages some tests and the demo use (dnsmasq, Unbound, Chromium), installed when missing and this is root.
test-packages:
	@bash test/packages.sh

# Every test: type-check, unit tests, integration tests on the test cluster (left running).
test: node-version cluster-up test-packages
	npm test $(if $(NO_COLOR),-- --no-color)
	@echo "The test cluster keeps running (reruns start at once); stop it with: make cluster-down"

# The whole flow on the test cluster, then the real Traefik and 04-verify's reachability matrix, a rogue
# public route caught, and 04 green again (test/demo.sh).
demo: node-version cluster-build test-packages
	bash test/demo.sh

bench: node-version cluster-up
	npm run bench
