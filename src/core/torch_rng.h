// torch.randn, bit for bit: PyTorch's CPU generator (mt19937 seeded like
// torch.Generator('cpu').manual_seed(seed)) and its normal-sampling kernels, so that a seed
// gives the same initial latents, and so the same image, as diffusers with a CPU generator.
//
// PyTorch fills float tensors of 16+ elements with uniform draws, then Box-Muller in blocks
// of 16. Which math it uses depends on the CPU kernel PyTorch dispatches to: machines with
// AVX2 or AVX-512 run the AVX2 kernel (Cephes polynomials, with fused multiply-adds), others
// the portable kernel (libm logf/cosf/sinf). Smaller tensors use the double-precision
// sampler. All three are here.
#pragma once

#include <cstdint>
#include <optional>
#include <random>

namespace paradit {

enum class NormalKernel { Auto, Scalar, Avx2 };

// The kernel PyTorch would pick on this CPU (ATEN_CPU_CAPABILITY overrides, as in PyTorch).
NormalKernel torch_normal_kernel();

class TorchGenerator {
 public:
  explicit TorchGenerator(uint64_t seed) : engine_(static_cast<uint32_t>(seed & 0xffffffffu)) {}
  uint32_t random() { return static_cast<uint32_t>(engine_()); }
  uint64_t random64();
  // torch.randn(n elements, generator=this): standard normal floats into out.
  void randn(float* out, int64_t n, NormalKernel kernel = NormalKernel::Auto);

 private:
  float uniform_float();    // at::uniform_real_distribution<float>(0, 1)
  double uniform_double();  // at::uniform_real_distribution<double>(0, 1)
  double normal_double();   // at::normal_distribution<double>(0, 1), with its cached second sample
  std::mt19937 engine_;
  std::optional<double> next_double_normal_;
};

}  // namespace paradit
