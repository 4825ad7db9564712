// cuDNN for the CUDA backend's fused attention (sdpa_cudnn.cpp) and convolutions
// (conv_cudnn.cpp): libcudnn.so.9 is opened once at run time (cudnn-frontend's dynamic
// loading), so a machine without cuDNN still runs paradit, on its own kernels. One handle,
// bound to paradit's stream; its users serialise on cudnn_mutex(). Built only with the
// cudnn-frontend headers.
#pragma once

#include <cudnn.h>

#include <mutex>

namespace paradit::cuda {

// Null when the machine has no usable cuDNN (said once on stderr).
cudnnHandle_t cudnn_handle();
std::mutex& cudnn_mutex();

}  // namespace paradit::cuda
