# msdnet_tf: `make demo` runs the whole pipeline on an offline default (MODEL=ranet: the RANet
# quickstart), `make test` the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
EXTRAS ?= dev,qat
# `make demo MODEL=ranet` runs the pipeline on configs/quickstart_ranet.yaml instead.
MODEL ?= msdnet
ifeq ($(MODEL),msdnet)
DEMO_CONFIG ?= configs/quickstart.yaml
DEMO_DIR ?= runs/quickstart
else
DEMO_CONFIG ?= configs/quickstart_$(MODEL).yaml
DEMO_DIR ?= runs/quickstart_$(MODEL)
endif
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: install test test-fast test-android-core demo fashion-mnist clean-demo

$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)

# The offline data of the quickstart: Debian's dataset-fashion-mnist, installed when
# missing and apt is there (as root, or with sudo).
fashion-mnist:
	@if [ -f $(FASHION_MNIST) ]; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist; \
	else echo "Fashion-MNIST not found at $(FASHION_MNIST) and no apt-get: install the" \
	  "dataset-fashion-mnist package or set data.download=true"; exit 1; fi

# pytest-xdist workers for `make test` (TEST_WORKERS=0 runs every test in this process). Each
# test file runs whole on one worker, so its module fixtures are built once.
TEST_WORKERS ?= 2
test: $(STAMP) test-android-core
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The Android demo's cascade logic (plain Java 17, JUnit 4 from Debian's junit4 package):
# javac + JUnit, no Gradle; its parity tests replay vectors made by the Python side.
test-android-core:
	android_demo/cascade-core/test.sh

demo: $(STAMP) fashion-mnist
	$(BIN)/python -m msdnet_tf.demo --config $(DEMO_CONFIG) --workdir $(DEMO_DIR)

clean-demo:
	rm -rf $(DEMO_DIR)
