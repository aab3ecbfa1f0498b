# ltrain: the two commands of the README, over meson.
#   make demo    install what is missing, build, run the main job (train
#                configs/demo.yaml on the built-in generated dataset)
#   make check   install what is missing, build (warnings as errors), run every
#                test, then again under AddressSanitizer + UBSan
# Other targets: make build | demo-sdk | bench | compare | fixtures | install PREFIX=... | clean

# Debian packages the build and tests need (headers + tools).
DEB_PACKAGES := gcc make pkg-config meson ninja-build check libopenblas-openmp-dev \
                libyaml-dev libjansson-dev libffi-dev libpng-dev libjpeg62-turbo-dev \
                libfreetype-dev fonts-dejavu-core libdnnl-dev
# Only `make fixtures` (regenerating PyTorch reference values) needs these.
FIXTURE_PACKAGES := python3-torch python3-torchvision python3-numpy python3-sklearn

BUILD ?= build
BUILD_ASAN ?= build-asan
MESON_FLAGS ?=
PREFIX ?= /usr/local

.PHONY: all deps demo demo-sdk check build build-asan test test-asan bench compare fixtures install clean

all: build

# Installs missing packages with apt-get when root; otherwise prints the
# exact command and stops.
define ensure_packages
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "ltrain: installing missing packages:" $$missing; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	  else \
	    echo "ltrain: missing Debian packages. Run as root:"; \
	    echo "  apt-get update && apt-get install -y" $$missing; \
	    exit 1; \
	  fi; \
	fi
endef

deps:
	$(call ensure_packages,$(DEB_PACKAGES))

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) -Dwerror=true $(MESON_FLAGS)

$(BUILD_ASAN)/build.ninja: | deps
	meson setup $(BUILD_ASAN) -Dwerror=true -Dbuildtype=debugoptimized \
	  -Db_sanitize=address,undefined -Db_lundef=false $(MESON_FLAGS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: deps $(BUILD_ASAN)/build.ninja
	ninja -C $(BUILD_ASAN)

test: build
	meson test -C $(BUILD) --print-errorlogs

# halt_on_error: a sanitizer report fails the test that triggered it.
test-asan: build-asan
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  meson test -C $(BUILD_ASAN) --print-errorlogs

check: test test-asan
	@echo "ltrain: all tests passed (release and ASan+UBSan builds)"

demo: build
	./$(BUILD)/core/ltrain train --config configs/demo.yaml

# The SDK-only example: a small CNN trained with the SDK directly, no config.
demo-sdk: build
	./$(BUILD)/examples/demo_cnn

# Conv backends side by side (im2col vs oneDNN) on the layers of three nets.
bench: build
	for net in resnet18-64 resnet18-224 unet; do ./$(BUILD)/bench/bench_ops --net $$net || exit 1; done

# ltrain against PyTorch on the five reference workloads (bench/compare_torch.py;
# needs python3-torch, python3-torchvision and ../shared/bench/torch_train_bench.py).
# Extra arguments: make compare COMPARE_ARGS="--only mlp --rounds 5".
COMPARE_ARGS ?=
compare: build
	$(call ensure_packages,$(FIXTURE_PACKAGES))
	python3 bench/compare_torch.py --ltrain $(BUILD)/core/ltrain $(COMPARE_ARGS)

fixtures:
	$(call ensure_packages,$(FIXTURE_PACKAGES))
	/usr/bin/python3 tests/reference/gen_fixtures.py
	/usr/bin/python3 tests/reference/make_safetensors.py
	/usr/bin/python3 tests/reference/resnet_reference.py
	/usr/bin/python3 tests/reference/benchmark_flops.py
	/usr/bin/python3 tests/reference/bench_models_reference.py

install: build
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
