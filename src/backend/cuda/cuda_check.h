// CUDA, cuBLASLt and NCCL status codes become paradit::Error with the call and the reason.
#pragma once

#include <cuda_runtime.h>

#include "core/error.h"

#define PD_CUDA_CHECK(call)                                                                     \
  do {                                                                                          \
    const cudaError_t pd_status_ = (call);                                                      \
    if (pd_status_ != cudaSuccess)                                                              \
      ::paradit::fail("CUDA: ", #call, " failed: ", cudaGetErrorString(pd_status_), " (", __FILE__, \
                      ":", __LINE__, ")");                                                      \
  } while (0)
