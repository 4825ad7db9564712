// cuDNN's fused attention where it applies (sdpa_cudnn.cpp): bf16 q, k, v [B, H, N, D] views
// (D contiguous, any other strides), bf16 out of the same layout, head size 64 or 128, an
// optional causal mask. Returns false, having done nothing, for any other case, when the
// machine has no libcudnn.so.9, or when PARADIT_CUDNN_SDPA=0; the caller then runs paradit's
// own kernel. Built only with the cudnn-frontend headers.
#pragma once

#include "core/tensor.h"

namespace paradit::cuda {

bool cudnn_sdpa_available();
bool cudnn_sdpa(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal, Tensor& out);

}  // namespace paradit::cuda
