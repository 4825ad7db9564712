// Memory on each device behind one interface, so a tensor allocates and moves the same way on
// every device: the host allocator serves the CPU; the CUDA backend registers the GPU's when
// the build has it. A device with nothing registered fails with one line naming it.
#pragma once

#include <cstddef>

#include "core/tensor.h"

namespace paradit {

class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  // Never returns null: throws Error (out of memory, no device) instead.
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* p, size_t bytes) = 0;
  virtual void zero(void* p, size_t bytes) = 0;
  // Between this device and the host, and within this device.
  virtual void copy_from_host(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, size_t bytes) = 0;
  virtual void copy_within(void* dst, const void* src, size_t bytes) = 0;
};

// `memory` must outlive every tensor on `device` (backends register a static instance).
void register_device_memory(Device device, DeviceMemory* memory);
DeviceMemory& device_memory(Device device);
bool has_device_memory(Device device);

}  // namespace paradit
