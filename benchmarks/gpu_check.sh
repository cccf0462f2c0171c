#!/usr/bin/env bash
# One GPU check of the training engine, meant to run once on a lent GPU machine within ~7 minutes, from the
# repository root (the package from src/, no install; numpy, pandas, tqdm and pytest must be importable):
#
#   OUT=/some/dir bash benchmarks/gpu_check.sh
#
# 1. tests/test_cuda.py: captured (CUDA-graph) training equals eager training on the GPU, 2D and images; a captured
#    step never synchronises with the host; a run of a CUDA image stack trains as it trains alone; CUDA and CPU runs
#    start from the same weights (each comparison prints its largest difference);
# 2. benchmarks/engine_throughput.py on CUDA: per-run throughput of stacked steps, images R = 1, 4, 12 on the paper's
#    Fashion-MNIST and CIFAR-10 networks and 2D R = 1, 64, 256, eager vs captured (CUDA graphs), fp32 vs bf16, with
#    the hours one paper-scale stack takes at each setting;
# 3. a 2D job end to end on CUDA with --capture (toy-train, through the MoG conversion and IP);
# 4. an image stack end to end on CUDA with --capture (image-warmup + image-train of 2 seeds x 2 r_entropy runs on
#    random 28x28 images), once uninterrupted and once killed after a checkpoint and resumed: the final weights of
#    both, run by run.
# PARTS=4 runs part 4 only (any subset of the digits 1234).
# Everything it prints goes to $OUT/gpu_check.log (the jobs' files to a temporary folder); the numbers belong in the
# README with the date and the GPU.
set -euo pipefail
OUT=${OUT:-/tmp/gpu_check}
WORK=$(mktemp -d)  # the jobs' files; only the log goes to $OUT
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec > >(tee "$OUT/gpu_check.log") 2>&1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"

PARTS=${PARTS:-1234}
if [[ $PARTS == *1* ]]; then
echo "== 1. the engine's CUDA tests"
timeout 150 python3 -m pytest -q -s -p no:cacheprovider tests/test_cuda.py || echo "tests/test_cuda.py: exit $?"

fi
if [[ $PARTS == *2* ]]; then
echo "== 2. throughput (per-run, side by side)"
timeout 240 python3 benchmarks/engine_throughput.py --device cuda --threads 8 --toy-runs 1 64 256 \
    --image-runs 1 4 12 --image-datasets fmnist cifar10 --iterations 5 --rounds 3 || echo "benchmark: exit $?"

fi
if [[ $PARTS == *3* ]]; then
echo "== 3. 2D job on CUDA, captured"
timeout 60 python3 -m vaepriors toy-train --dataset 8Gaussian --configuration sintro_mog_lc_ip --model sintro \
    --prior vamp --components 8 --learnable-contributions --intro-prior --convert-to-mog --iterations 2000 \
    --warmup 500 --mog-warmup 100 --milestones 1500 --grid-beta-rec 0.2 1.0 --grid-beta-kl 0.3 --seeds 0 1 \
    --capture --device cuda --out "$WORK/toy_runs.pt" || echo "2D job: exit $?"

fi
if [[ $PARTS == *4* ]]; then
echo "== 4. image stack on CUDA, captured, killed and resumed"
python3 - "$WORK" <<'EOF'
import sys, torch
from vaepriors.core.data.images import ImageData
images = torch.randint(0, 256, (2048, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
labels = torch.arange(2048) % 10
ImageData(images, labels, images[:256], labels[:256], "fmnist", "random", None, {}).save(f"{sys.argv[1]}/data.pt")
EOF
FLAGS=(--dataset fmnist --configuration mog10_lc_ip --prior vamp --components 10 --learnable-contributions
       --intro-prior --seeds 0 1 --r-entropy 0 10 --epochs 8 --warmup-epochs 2 --mog-warmup-epochs 1
       --measure-epochs 4 7 --checkpoint-every 1 --capture --device cuda)
timeout 60 python3 -m vaepriors image-warmup --data "$WORK/data.pt" --out "$WORK/warmup.pt" "${FLAGS[@]}" ||
    echo "image warm-up: exit $?"
stack() {  # stack NAME: the image-train arguments of the four runs, into $WORK/NAME
    STACK=(--data "$WORK/data.pt" --warmup "$WORK/warmup.pt" --checkpoint "$WORK/$1.checkpoint.pt"
           --manifest "$WORK/$1.json" --run-dirs "$WORK/$1/r0/seed0" "$WORK/$1/r0/seed1" "$WORK/$1/r10/seed0"
           "$WORK/$1/r10/seed1" "${FLAGS[@]}")
}
stack straight
timeout 90 python3 -m vaepriors image-train "${STACK[@]}" || echo "uninterrupted image stack: exit $?"
stack killed
python3 -m vaepriors image-train "${STACK[@]}" &  # not under timeout, so that kill -9 reaches python
JOB=$!
for _ in $(seq 180); do [ -f "$WORK/killed.checkpoint.pt" ] || ! kill -0 $JOB 2>/dev/null && break; sleep 0.5; done
kill -9 $JOB 2>/dev/null && echo "killed after its checkpoint" || echo "not killed: it had ended"
wait $JOB 2>/dev/null || true
timeout 90 python3 -m vaepriors image-train "${STACK[@]}" || echo "resumed image stack: exit $?"
cat "$WORK/killed.json" 2>/dev/null || echo "no manifest"
python3 - "$WORK" <<'EOF'
import sys, torch
for run in ("r0/seed0", "r0/seed1", "r10/seed0", "r10/seed1"):
    straight, resumed = (torch.load(f"{sys.argv[1]}/{name}/{run}/final.pt", weights_only=True)["model"]
                         for name in ("straight", "killed"))
    worst = max((resumed[k].float() - v.float()).abs().max().item() for k, v in straight.items() if v.numel())
    print(f"{run}: killed and resumed vs uninterrupted, largest parameter difference {worst:.3g}")
EOF
fi
