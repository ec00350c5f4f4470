#!/usr/bin/env bash
# Everything a GPU session checks, prepared so that a 15-minute device lease is two calls at most.
#
#   here, once:   bash benchmarks/gpu_session.sh fetch-wheels      # wheels the GPU image lacks -> .whl/
#   device call:  run(command="bash benchmarks/gpu_session.sh loss",  carry=[".whl"], timeout_s=420)
#   device call:  run(command="bash benchmarks/gpu_session.sh train", carry=[".whl"], timeout_s=420)
#   (or "all" in one call when the lease has 10+ minutes left)
#
# The GPU image (python 3.12, torch, transformers, timm, pyarrow...) has no pydantic (the shared schema module
# needs it) and no open_clip (the loss benchmark's ClipLoss baseline): both travel as wheels in .whl/ (ignored by
# git through .git/info/exclude). Results go to $OUT (JSON + logs); copy the numbers into docs/benchmarks.md
# with the device line the scripts print.
set -uo pipefail
PART=${1:-all}
OUT=${OUT:-runs/gpu-session}
WHEELS=(pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
        open_clip_torch==3.3.0 ftfy==6.3.1 wcwidth==0.9.4)

if [[ $PART == fetch-wheels ]]; then
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
  exec "${PYTHON:-python3}" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "${WHEELS[@]}"
fi

mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg PYTHONPATH=.
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "wheel install failed"; exit 1; }
  export PYTHONPATH=/tmp/site:.
fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'transformers', transformers.__version__, torch.cuda.get_device_name(0))"; } 2>&1 | tee "$OUT/device.txt"

status=0
if [[ $PART == loss || $PART == all ]]; then
  # CUDA correctness first (fp64 parity with the naive reference on the GPU), then the protocol in
  # docs/benchmarks.md; --cell-seconds keeps the whole table inside ~5 minutes
  timeout 60 python3 - <<'EOF' 2>&1 | tee "$OUT/loss_check.txt" || status=1
import torch
from keepfit.loss import contrastive_loss
from tests.keepfit.naive_loss import naive_flair_loss
g = torch.Generator(device="cuda").manual_seed(0)
for n in (1000, 4096):
    img = torch.nn.functional.normalize(torch.randn(n, 512, device="cuda", dtype=torch.float64, generator=g), dim=1)
    txt = torch.nn.functional.normalize(torch.randn(n, 512, device="cuda", dtype=torch.float64, generator=g), dim=1)
    ids = torch.randint(0, n // 3, (n,), device="cuda", generator=g)
    a, b = img.clone().requires_grad_(), txt.clone().requires_grad_()
    scale = torch.tensor(14.3, device="cuda", dtype=torch.float64)
    ours = contrastive_loss(a, b, scale, class_ids=ids)["loss"]
    ours.backward()
    c, d = img.clone().requires_grad_(), txt.clone().requires_grad_()
    ref = naive_flair_loss(c, d, scale, ids)["loss"]
    ref.backward()
    rel = lambda x, y: float((x - y).abs().max() / y.abs().max())
    print(f"cuda fp64 N={n}: loss rel {rel(ours, ref):.2e}, d_img rel {rel(a.grad, c.grad):.2e}, "
          f"d_txt rel {rel(b.grad, d.grad):.2e}")
    assert rel(ours, ref) < 1e-10 and rel(a.grad, c.grad) < 1e-10 and rel(b.grad, d.grad) < 1e-10
print("cuda parity OK")
EOF
  timeout 330 python3 benchmarks/loss.py --cell-seconds 8 --out "$OUT/loss_bench.json" 2>&1 \
    | tee "$OUT/loss_bench.log" || status=1
fi
if [[ $PART == train || $PART == all ]]; then
  timeout 390 python3 benchmarks/train_throughput.py --out "$OUT/train_bench.json" --workdir /tmp/bench 2>&1 \
    | tee "$OUT/train_bench.log" || status=1
fi
exit $status
