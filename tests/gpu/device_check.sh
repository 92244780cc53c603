#!/usr/bin/env bash
# The one prepared check of the GPU path (issue 17): tests/gpu, then the GPU benchmark, then one summary.
#
#     tests/gpu/device_check.sh            # from anywhere; PYTHON=... picks the interpreter (default python3)
#     DEVICE_CHECK_SLOW=1 tests/gpu/device_check.sh   # also the slow torch.compile test (~5-8 more minutes)
#
# Estimated time on one H100/H200: tests/gpu about 4 minutes (the torch.compile test takes a minute or two, the
# CLI's processes about 40 s; the two-GPU tests skip), the benchmark about 1.5 minutes (four ways of Figure 6,
# 3 s of steady steps each, plus captures, evaluation and checkpoint timings): under 6 minutes, and each part
# has a hard limit (5 and 2.5 minutes) so that the whole ends within 8. Without CUDA it says so and exits 0.
set -u
cd "$(dirname "$0")/../.."
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
started=$(date +%s)
if ! "$PY" -c "import torch, explorer" 2>/dev/null; then
    echo "device check: $PY cannot import torch and explorer; set PYTHON to the project's interpreter" >&2
    exit 1
fi
if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "device check: skipped, no CUDA device here (torch.cuda.is_available() is false)"
    exit 0
fi
log=$(mktemp -d)
"$PY" -c "import torch; print('GPU:', torch.cuda.get_device_name(0), '| GPUs:', torch.cuda.device_count(),
      '| torch', torch.__version__, '| CUDA', torch.version.cuda, '| cuDNN', torch.backends.cudnn.version())" \
    | tee "$log/device.txt"
marker=(-m "not slow")
[ "${DEVICE_CHECK_SLOW:-0}" = 1 ] && marker=()
timeout 300 "$PY" -m pytest tests/gpu -q -rfEs -p no:cacheprovider -o addopts="--strict-markers" "${marker[@]}" 2>&1 | tee "$log/tests.txt"
tests_rc=${PIPESTATUS[0]}
timeout 150 "$PY" tests/benchmarks/gpu_throughput.py --seconds 3 2>&1 | tee "$log/bench.txt"
bench_rc=${PIPESTATUS[0]}
echo
echo "================ DEVICE CHECK SUMMARY ================"
cat "$log/device.txt"
echo "tests/gpu: $(grep -E '(passed|failed|error|skipped)' "$log/tests.txt" | tail -1) (exit $tests_rc)"
grep -E '^(FAILED|ERROR)' "$log/tests.txt" | sed 's/^/  /'
echo "benchmark (exit $bench_rc):"
grep -E '^(Figure 6|way|eager|graphs|fused)' "$log/bench.txt" | sed 's/^/  /'
grep -E '^FIGURE6' "$log/bench.txt"
echo "wall time: $(( $(date +%s) - started )) s"
[ "$tests_rc" = 0 ] && [ "$bench_rc" = 0 ]
