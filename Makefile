# homelab-ingress: the table of contents. `make` runs every step in order.
#   make                      01 -> 04, stops at the first failure
#   make 02-traefik           one step
#   make from STEP=02         resume at a step
#   make render / dry-run     see what would be applied, change nothing
#   make teardown [PURGE=1]   remove it all (PURGE=1 also deletes the acme.json volume)
# ENV_FILE=path picks another env file; ARGS="..." passes extra flags (e.g. ARGS=--context=homelab).

ZX       ?= npx zx
ENV_FILE ?=
ARGS     ?=
STEP     ?=
OUT      ?= out/rendered
FLAGS    := $(if $(ENV_FILE),--env-file $(ENV_FILE)) $(ARGS)

.PHONY: all node-version 01-metallb 02-traefik 03-internal-routes 04-verify from render dry-run \
        teardown test demo cluster-up cluster-down bench

all: node-version
	$(ZX) scripts/run-all.ts $(FLAGS)

# Node >= 22.18 runs the .ts scripts directly; an older one fails with a puzzling
# ERR_UNKNOWN_FILE_EXTENSION, so say it plainly first.
node-version:
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<22||(a===22&&b<18)) { console.error("ERROR: Node "+process.versions.node+" is too old: homelab-ingress needs Node >= 22.18 (24 LTS recommended)"); process.exit(2) }'

01-metallb 02-traefik 03-internal-routes 04-verify: node-version
	$(ZX) scripts/$@.ts $(FLAGS)

from: node-version
	@test -n "$(STEP)" || { echo "ERROR: STEP is required, e.g. make from STEP=02" >&2; exit 2; }
	$(ZX) scripts/run-all.ts --from $(STEP) $(FLAGS)

render: node-version
	$(ZX) scripts/render.ts --out $(OUT) $(FLAGS)

dry-run: node-version
	$(ZX) scripts/run-all.ts --dry-run $(FLAGS)

teardown: node-version
	$(ZX) scripts/99-teardown.ts $(if $(PURGE),--purge) $(FLAGS)

test: node-version
	npm test

# The test cluster (test/cluster/): a real control plane, kwok nodes, MetalLB's controller.
cluster-up:
	npm run cluster:up

cluster-down:
	npm run cluster:down

# Brings the test cluster up and runs the whole flow against it, ending in 04-verify's report.
demo: node-version
	bash test/demo.sh

bench: node-version
	npm run bench
