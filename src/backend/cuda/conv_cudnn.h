// The VAE's convolutions through cuDNN (conv_cudnn.cpp; cudnn-frontend's graph API): x [N, C, H,
// W] and w [K, C, R, S] contiguous in one dtype (F32 or BF16), y [N, K, Ho, Wo] in that dtype,
// the bias [K] (F32) added in the same graph, asymmetric zero padding, one stride. F32 runs
// without TF32 (the engines cuDNN marks as tensor-core ones are left out), so the f32 GPU
// path stays a reference. One graph per shape, built on first use and kept. Returns false,
// having done nothing, for any other case, without cuDNN, or with PARADIT_CUDNN_CONV=0; the
// caller then runs the convolution as one GEMM.
#pragma once

#include "backend/cuda/cuda_ops.h"

namespace paradit::cuda {

bool cudnn_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, const ConvGeometry& g, Tensor& y);

}  // namespace paradit::cuda
