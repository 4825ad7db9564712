// What the CPU we run on can do, read once from CPUID (and XGETBV: the OS must save the wider
// registers), for choosing kernels and the default dtype at run time.
#pragma once

#include <string>

namespace paradit {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;     // and the OS saves the AVX-512 state
  bool avx512_bf16 = false;  // VDPBF16PS and the bf16 conversions
  bool amx_bf16 = false;     // AMX tiles with bf16 (the OS may still have to grant them per process)
  std::string summary() const;  // "avx2 fma avx512f avx512_bf16"
};

const CpuFeatures& cpu_features();

}  // namespace paradit
