#!/usr/bin/env bash
# Prepare the lab's one-shot GPU check for a machine with no internet whose Python (3.12) has JAX
# with CUDA, NumPy, Pillow, h5py, rich, absl-py, ml-dtypes, packaging and typing-extensions (which
# optree needs, >= 4.10), but no Keras (the device notes list such a machine's packages).
#
#   benchmarks/gpu_wheels.sh [FOLDER]          (default FOLDER: .gpu, which .gitignore must hold)
#
# GPU_PYTHON_VERSION (default 3.12, the GPU machine's) picks the compiled wheel's Python: a CPU
# rehearsal of the command in a venv of another Python sets it to that venv's version.
#
# 1. Downloads into FOLDER/wheels the wheels that machine lacks: Keras at the course's pinned
#    version (requirements.txt) and its two dependencies missing there, namex and optree (a
#    compiled wheel: CPython 3.12, manylinux x86-64). Not JAX, PyTorch or anything the image has.
# 2. Links FOLDER/data to the folder holding the offline CIFAR-10 archive ($KLDIV_CIFAR10, else
#    ../shared/data/cifar10-images.tar.gz): a link, not a copy, so nothing derived from the data is
#    written into the repository; a tool that carries FOLDER/data/<archive> follows it.
# 3. Checks that wheels, archive and the working tree together stay within 64 MiB (what may travel
#    in one call) and prints the command to run there.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
folder=${1:-.gpu}
case $folder in /*) ;; *) folder="$root/$folder" ;; esac
python=${PYTHON:-python3}
pyver=${GPU_PYTHON_VERSION:-3.12}
limit=$((64 * 1024 * 1024))

keras=$(grep -E '^keras==' "$root/requirements.txt" | cut -d' ' -f1)
[ -n "$keras" ] || { echo "gpu_wheels: no keras==VERSION pin in requirements.txt" >&2; exit 1; }
# The versions the course's environment resolved for Keras 3.15.1's dependencies (pip show, .venv).
wanted=("$keras" namex==0.1.0 optree==0.20.0)

rm -rf "$folder/wheels"
mkdir -p "$folder/wheels"
"$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$pyver" \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  -d "$folder/wheels" "${wanted[@]}"
count=$(ls "$folder/wheels"/*.whl | wc -l)
[ "$count" -eq "${#wanted[@]}" ] || { echo "gpu_wheels: expected ${#wanted[@]} wheels, got $count" >&2; exit 1; }

archive=${KLDIV_CIFAR10:-$root/../shared/data/cifar10-images.tar.gz}
[ -f "$archive" ] || { echo "gpu_wheels: no CIFAR-10 archive at $archive (set KLDIV_CIFAR10)" >&2; exit 1; }
archive=$(cd "$(dirname "$archive")" && pwd)/$(basename "$archive")
ln -sfn "$(dirname "$archive")" "$folder/data"

wheel_bytes=$(cat "$folder/wheels"/*.whl | wc -c)
data_bytes=$(wc -c < "$archive")
# The working tree travels too: tracked and untracked-not-ignored files, FOLDER left out.
rel=${folder#"$root"/}
tree_bytes=$(cd "$root" && git ls-files -co --exclude-standard -z | grep -zv "^$rel/" \
  | xargs -0 cat 2>/dev/null | wc -c)
total=$((wheel_bytes + data_bytes + tree_bytes))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
echo "gpu_wheels: $count wheels, $(mib "$wheel_bytes") MiB; archive $(mib "$data_bytes") MiB;" \
  "working tree $(mib "$tree_bytes") MiB; total $(mib "$total") MiB of 64 MiB"
[ "$total" -le "$limit" ] || { echo "gpu_wheels: over the 64 MiB that may travel" >&2; exit 1; }

name=$(basename "$archive")
cat <<EOF
Run on the GPU machine, carrying ["$rel/wheels", "$rel/data/$name"], with a 540 s limit:
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site $rel/wheels/*.whl && export PYTHONPATH=/tmp/site:\$PWD/src KERAS_BACKEND=jax PYTHONUNBUFFERED=1 || exit; timeout 480 python3 benchmarks/gpu_check.py --data $rel/data/$name --out \$OUT/gpu_check.json
EOF
