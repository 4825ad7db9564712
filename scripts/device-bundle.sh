#!/usr/bin/env bash
# Builds what scripts/device-check.sh carries to a GPU machine, into device-bundle/ (ignored by
# git; name it in the device tool's `carry`):
#   device-bundle/bundle.tar.xz   bin/paradit, bin/test_cuda and lib/: libparadit and the
#                                 libraries it needs that a CUDA machine may lack (oneDNN, Open
#                                 MPI, libpng, the CUDA 13.0 runtime), mpi/: Open MPI's launcher,
#                                 compressed
#                                 and site/: diffusers and importlib_metadata unpacked, for the
#                                 PyTorch peer (the GPU machine has torch but not diffusers)
# The build: no -march=native (the binary runs on another CPU), sm_90a machine code only (H100,
# H200), -lineinfo for compute-sanitizer, ICU off (its 30 MB of data do not fit the 64 MiB the
# tool carries; the ASCII-only text twins, tested against ICU, tokenise the check's prompts).
# The GPU machine supplies the driver, cuBLAS/cuBLASLt and NCCL (its CUDA toolkit or PyTorch's
# wheels). The CUDA runtime travels as libcudart.so.13 (0.7 MB) rather than linked statically:
# a static runtime inside the shared libparadit and again in each program would make two
# runtimes in one process.
#
#   scripts/device-bundle.sh            # then: device run with carry ["device-bundle"]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${PARADIT_DEVICE_BUILD:-build-device}
out=device-bundle
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPARADIT_WERROR=ON -DPARADIT_NATIVE=OFF -DPARADIT_CUDA=ON \
  -DPARADIT_ICU=OFF -DPARADIT_CUDA_LINEINFO=ON -DCMAKE_CUDA_ARCHITECTURES=90a-real >/dev/null
cmake --build "$build" -j "$(nproc)" --target paradit_cli test_cuda

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/lib/compat"
cp "$build/paradit" "$build/tests/test_cuda" "$stage/bin/"
cp -L "$build/src/libparadit.so.0" "$stage/lib/"
strip --strip-unneeded "$stage/lib/libparadit.so.0" "$stage/bin/paradit" "$stage/bin/test_cuda"
# Every library the programs load, except what any Linux with an NVIDIA driver and CUDA has:
# the C library family, the driver, cuBLAS, NCCL, cuDNN. libstdc++ and libgcc_s go to
# lib/compat, used only when the machine's own are older than this build needs.
libs=$(LD_LIBRARY_PATH="$stage/lib" ldd "$stage/bin/paradit" "$stage/bin/test_cuda" "$stage/lib/libparadit.so.0" |
  awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u)
for lib in $libs; do
  name=$(basename "$lib")
  case "$name" in
    libparadit.so*|linux-vdso*|libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libcuda.so*) ;;
    libcublas*|libnccl*|libcudnn*) ;;
    libstdc++*|libgcc_s*) cp -L "$lib" "$stage/lib/compat/" ;;
    *) cp -L "$lib" "$stage/lib/" ;;
  esac
done
# Open MPI's launcher, so that the parallel configs run on the GPU machine (it has no MPI):
# orterun, the components a one-node job loads (not those for InfiniBand, UCX, OFI, PSM,
# Slurm, MPI-IO or OpenSHMEM, whose libraries are not carried), PMIx's plugins, the help texts
# and Debian's default parameters; mpi/bin/mpirun (scripts/mpirun-relocated.sh) points Open
# MPI at them.
mpi="$stage/mpi"
mkdir -p "$mpi/bin" "$mpi/lib/openmpi3" "$mpi/lib/pmix" "$mpi/share/openmpi" "$mpi/etc"
cp -L "$(command -v orterun)" "$(command -v orted)" "$mpi/bin/"
cp scripts/mpirun-relocated.sh "$mpi/bin/mpirun"
for f in /usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3/*.so; do
  case "$(basename "$f")" in
    *ucx*|*ofi*|*psm*|*openib*|*slurm*|*flux*|*jsm*|*gridengine*|*romio*|*fcoll*|mca_fs_*|*fbtl*|*sharedfp*) ;;
    *memheap*|*spml*|*sshmem*|*scoll*|*atomic*|*monitoring*|*vprotocol*|mca_mtl_*|*pml_cm*|*dbg_msgq*) ;;
    *crs_*|*compress_*|*osc_*|mca_io_*|*treematch*) ;;
    *) cp -L "$f" "$mpi/lib/openmpi3/" ;;
  esac
done
cp -L /usr/lib/x86_64-linux-gnu/pmix2/lib/pmix/*.so "$mpi/lib/pmix/"
cp -rL /usr/share/openmpi/. "$mpi/share/openmpi/"
cp -L /etc/openmpi/openmpi-mca-params.conf "$mpi/etc/"
ldd "$mpi/bin/orterun" "$mpi"/lib/openmpi3/*.so "$mpi"/lib/pmix/*.so | awk '$2 == "=>" && $3 ~ /^\// {print $3}' |
  sort -u | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*) ;;
      *) cp -Ln "$lib" "$mpi/lib/" ;;
    esac
  done
# Pure-Python wheels unpacked (a wheel is a zip: unpacked into site/ and xz-compressed with
# the rest they take half the room), cached between runs in $build/wheels.
mkdir -p "$build/wheels" "$stage/site"
if [ -z "$(ls "$build/wheels"/diffusers-*.whl 2>/dev/null)" ]; then
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$build/wheels" diffusers==0.42.1 importlib_metadata==8.7.0 ||
    echo "device-bundle: could not download the diffusers wheel; the PyTorch peer will be skipped" >&2
fi
for whl in "$build/wheels"/*.whl; do
  [ -e "$whl" ] && python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$whl" "$stage/site"
done
mkdir -p "$out"
rm -rf "$out/bundle.tar.xz" "$out/wheels"
tar -C "$stage" -cf - bin lib mpi site | xz -9 -T0 > "$out/bundle.tar.xz"
echo "device-bundle: $(du -sh "$out/bundle.tar.xz" | cut -f1)"
echo "  libraries carried: $(ls "$stage/lib" | tr '\n' ' ')"
tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
carried=$(du -cb "$out" | tail -1 | cut -f1)
echo "  travels: $(( (tracked + carried) / 1048576 )) MiB of the tool's 64 (tree $(( tracked / 1048576 )) MiB)"
[ $(( tracked + carried )) -lt $(( 64 * 1048576 )) ] || { echo "device-bundle: over 64 MiB" >&2; exit 1; }
