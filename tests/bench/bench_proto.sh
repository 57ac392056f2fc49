#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The device protocol's crypto on one core: scans built and verified, revealed
# replies sealed and opened per second (docs/protocol.md). The gateway's full
# per-scan crypto bounds its scan->reply rate (issue 5 target: >= 3,000/s).
set -euo pipefail
SMILE_BUILD=${SMILE_BUILD:-build}
bin="$SMILE_BUILD/bench/bench_proto"
[ -x "$bin" ] || { echo "bench_proto: $bin not built (make test-build)"; exit 1; }
"$bin" "${BENCH_SECONDS:-1}"
