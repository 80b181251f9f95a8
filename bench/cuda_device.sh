#!/usr/bin/env bash
# The one command for the lent GPU host (one GPU, python3 = 3.12 with torch + transformers, no
# network, no Django/celery/diffusers/av/c2pa). Run from the repository root, with .whl carried:
#
#     bash bench/cuda_device.sh [extra args for bench/cuda_generation.py]
#     BENCH=throughput N=8 bash bench/cuda_device.sh [extra args for bench/throughput.py]   (issue 18)
#
# .whl/wheels-py312.tar.xz holds the cp312 / py3 manylinux x86_64 wheels of every package the
# platform path needs and the host lacks, at requirements.txt's pins (MANIFEST.txt inside lists
# them with the sha256 of the wheel as downloaded). They are re-zipped uncompressed and xz'd
# together (files and RECORDs unchanged, except c2pa-python's never-loaded Rust build leftovers
# libc2pa_c.rlib/.d), so they fit the 64 MiB that travels. torch, numpy, transformers,
# tokenizers, safetensors, huggingface_hub, accelerate, pillow ... are the host's own: none is
# carried, so /tmp/site first on PYTHONPATH shadows none of them. fallback/ holds
# huggingface_hub 1.33.0, installed only if the host's is older than diffusers 0.42.1 accepts.
#
# Everything it prints also goes to $OUT/cuda_generation.log. CHECK_ONLY=1: install + preflight,
# no GPU work (used to test this script on a machine without torch).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/atelier-out}"
mkdir -p "$OUT"

main() {
  export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore
  local t0=$SECONDS W=/tmp/atelier-wheels
  echo "== $(date -u +%FT%TZ)  $(hostname)  repo $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  nvidia-smi -L 2>/dev/null || echo "(no nvidia-smi)"
  python3 --version

  rm -rf "$W" /tmp/site /tmp/site-hub && mkdir -p "$W"
  python3 - "$W" <<'EOF' || return 1
import sys, tarfile
with tarfile.open(".whl/wheels-py312.tar.xz") as tar:
    tar.extractall(sys.argv[1], **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
EOF
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$W"/*.whl || return 1
  export PYTHONPATH=/tmp/site
  # diffusers 0.42.1 wants huggingface_hub >= 1.32; transformers 5.17 wants < 2.0.
  if ! python3 -c "import sys, huggingface_hub as h; from packaging.version import Version as V
sys.exit(0 if V('1.32') <= V(h.__version__) < V('2') else 1)" 2>/dev/null; then
    echo "host huggingface_hub $(python3 -c 'import huggingface_hub as h; print(h.__version__)' 2>&1 | tail -1)" \
      "is outside [1.32, 2): using the carried 1.33.0"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site-hub \
      "$W"/fallback/*.whl || return 1
    export PYTHONPATH=/tmp/site-hub:/tmp/site
  fi
  echo "installed in $((SECONDS - t0)) s: $(ls "$W"/*.whl | wc -l) wheels -> $(du -sh /tmp/site | cut -f1)"

  # Preflight (a few seconds): what the worker imports at start, an MP4 encode and a C2PA signature,
  # the diffusers classes. A broken wheel shows up here, not minutes into the run.
  ATELIER_VAR_DIR="$(mktemp -d)" DJANGO_SETTINGS_MODULE=tester_platform.settings LOG_LEVEL=WARNING \
    python3 - <<'EOF' || return 1
import importlib.metadata as md, os, sys, time
t = time.perf_counter()
sys.path.insert(0, os.getcwd())
import django
django.setup()
from tester_platform.celery import app
app.loader.import_default_modules()
import numpy as np
from generation import media, provenance
mp4 = media.encode_mp4(np.zeros((9, 64, 112, 3), np.uint8), fps=16)
signed = provenance.sign_mp4(mp4, claims=provenance.ProvenanceClaims("preflight", 1, 1, False),
                             model_profile="wan2.1-t2v-1.3b", title="preflight")
assert signed.signed_sha256 and media.probe(signed.data)["frames"] == 9
names = ["torch", "transformers", "diffusers", "huggingface_hub", "tokenizers", "safetensors", "accelerate", "numpy",
         "Django", "celery", "kombu", "av", "c2pa-python", "cryptography"]
def ver(n):
    try:
        return md.version(n)
    except md.PackageNotFoundError:
        return "-"
print("versions:", "  ".join(f"{n} {ver(n)}" for n in names))
if os.environ.get("CHECK_ONLY") != "1":
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel  # noqa: F401
    print(f"torch cuda {torch.version.cuda}  available {torch.cuda.is_available()}  "
          f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else ''}")
print(f"preflight ok in {time.perf_counter() - t:.1f} s (django + worker imports + mp4 + c2pa"
      f"{'' if os.environ.get('CHECK_ONLY') == '1' else ' + diffusers'})")
EOF
  if [ "${CHECK_ONLY:-0}" = 1 ]; then
    echo "CHECK_ONLY: done in $((SECONDS - t0)) s"
    return 0
  fi

  if [ "${BENCH:-}" = throughput ]; then
    # Issue 18: N preview jobs through the platform (batched) vs the bare pipeline one at a time,
    # on the 1.3B-size random checkpoint in bf16, with and without the step cache.
    timeout 480 python3 bench/throughput.py --build-13b --n "${N:-8}" "$@" | tee "$OUT/throughput.log"
    local rc=${PIPESTATUS[0]}
    echo "== bench exit $rc; script total $((SECONDS - t0)) s"
    return $rc
  fi
  # The bench keeps itself inside --budget (fewer bare jobs, no previews when late); timeout is the hard stop.
  timeout 480 python3 bench/cuda_generation.py --budget 380 "$@"
  local rc=$?
  echo "== bench exit $rc; script total $((SECONDS - t0)) s"
  return $rc
}

main "$@" 2>&1 | tee "$OUT/cuda_generation.log"
exit "${PIPESTATUS[0]}"
