#!/usr/bin/env bash
# The test command (README, CI): installs what the tests need, then runs them.
# Tests use the small random-weight SAM in tests/fixtures and never touch the network. They build in
# the release profile, like the README's run command, so the two share one build of the dependencies.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The ONNX Runtime library, from the official PyPI wheel, into .ort/lib.
bash scripts/setup-ort.sh

cargo test --release --locked "$@"
