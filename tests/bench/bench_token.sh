#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# QR tokens and the vault, one core: tokens minted and opened per second,
# shipments sealed and opened per second. Target (issue 4): >= 100k tokens/s.
set -euo pipefail
SMILE_BUILD=${SMILE_BUILD:-build}
bin="$SMILE_BUILD/bench/bench_token"
[ -x "$bin" ] || { echo "bench_token: $bin not built (make test-build)"; exit 1; }
"$bin" "${BENCH_SECONDS:-1}"
