#include "core/device_memory.h"

#include <cstring>

#include "core/error.h"
#include "core/host_allocator.h"

namespace paradit {
namespace {

class HostMemory final : public DeviceMemory {
 public:
  void* allocate(size_t bytes) override {
    void* p = bytes ? host_alloc(bytes) : nullptr;
    PD_CHECK(p != nullptr || bytes == 0, "out of host memory allocating ", bytes, " bytes");
    return p;
  }
  void release(void* p, size_t bytes) override { host_free(p, bytes); }
  void zero(void* p, size_t bytes) override {
    if (bytes) std::memset(p, 0, bytes);
  }
  void copy_from_host(void* dst, const void* src, size_t bytes) override { copy_within(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override { copy_within(dst, src, bytes); }
  void copy_within(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
};

}  // namespace

void DeviceMemory::copy_strided(const Shape& shape, const Shape&, const void*, DType src_dtype, const Shape&, void*,
                                DType dst_dtype) {
  fail("a strided ", dtype_name(src_dtype), " -> ", dtype_name(dst_dtype), " copy of ", shape_str(shape),
       " has no implementation on this device");
}

namespace {

DeviceMemory*& slot(Device device) {
  static HostMemory host;
  static DeviceMemory* slots[2] = {&host, nullptr};
  return slots[static_cast<int>(device)];
}

}  // namespace

void register_device_memory(Device device, DeviceMemory* memory) { slot(device) = memory; }

bool has_device_memory(Device device) { return slot(device) != nullptr; }

DeviceMemory& device_memory(Device device) {
  DeviceMemory* m = slot(device);
  PD_CHECK(m != nullptr, "no ", device_name(device), " memory: this build of paradit has no ", device_name(device),
           " backend");
  return *m;
}

}  // namespace paradit
