// Linear layers on the GPU through cuBLASLt: y[M, N] = x[M, K] W[N, K]^T (+ bias) (then GELU),
// bf16 inputs and weights, f32 accumulation, bf16 or f32 output. The bias and the tanh GELU
// are cuBLASLt epilogues, so they cost no extra pass over y.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace paradit::cuda {

enum class Epilogue { None, Bias, BiasGelu };

class LtGemm {
 public:
  explicit LtGemm(size_t workspace_bytes = 32u << 20);
  ~LtGemm();
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  // x, w: bf16 device pointers; bias: bf16 [N] (Bias/BiasGelu) or null; y: bf16 or f32.
  void linear(const void* x, const void* w, const void* bias, void* y, bool y_f32, int64_t M, int64_t N, int64_t K,
              Epilogue epilogue, cudaStream_t stream = nullptr);

 private:
  void* handle_ = nullptr;  // cublasLtHandle_t
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
};

}  // namespace paradit::cuda
