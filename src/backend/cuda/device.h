// The GPUs this process can use. Asking never fails: without a driver or a device the count is
// zero and `cuda_unavailable_reason` says why (the tests print it when they skip).
#pragma once

#include <string>

namespace paradit::cuda {

int device_count();
std::string unavailable_reason();  // "" when a device is present
std::string describe_device(int index);  // "NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB"
// True once the GPU's DeviceMemory is registered (device_memory.cpp registers it at load).
bool device_memory_registered();
// Which attention runs on bf16 inputs: "cuDNN SDPA" or "paradit's kernel (why)".
std::string attention_backend();

}  // namespace paradit::cuda
