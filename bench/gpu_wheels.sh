#!/usr/bin/env bash
# Fetch, into .whl/ (git-ignored), the wheels that the lent GPU machines' image lacks: ArviZ 1.x
# (arviz, arviz-base, arviz-stats, arviz-plots) and h5netcdf, at the versions of this checkout's
# .venv. The image has JAX with CUDA, NumPyro, Flax, Optax, xarray, SciPy, Matplotlib and
# lazy_loader (the device tool's KINDS.md). bench/README.md, "On a lent GPU", has the command that
# installs them there and runs the GPU benches.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "gpu_wheels.sh: no .venv here; run 'make venv' first" >&2
  exit 1
fi
mkdir -p .whl
platforms=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64; do
  platforms+=(--platform "$tag")
done
for pkg in arviz arviz-base arviz-stats arviz-plots h5netcdf; do
  version=$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('$pkg'))")
  .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]}" -d .whl "$pkg==$version"
done
ls .whl
