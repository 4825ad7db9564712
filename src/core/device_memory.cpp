#include "core/device_memory.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

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
  // Row by row over the innermost dimension, one convert call per row where both sides have
  // stride 1 there.
  void copy_strided(const Shape& shape, const Shape& src_strides, const void* src_data, DType st,
                    const Shape& dst_strides, void* dst_data, DType dt) override {
    const size_t nd = shape.size();
    const int64_t total = shape_numel(shape);
    if (total == 0) return;
    const char* src = static_cast<const char*>(src_data);
    char* dst = static_cast<char*>(dst_data);
    const int64_t inner = nd ? shape[nd - 1] : 1;
    const int64_t s_inner = nd ? src_strides[nd - 1] : 1, d_inner = nd ? dst_strides[nd - 1] : 1;
    const int64_t outer = total / inner;
    const size_t ses = dtype_size(st), des = dtype_size(dt);
#pragma omp parallel for if (total > 65536) schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      int64_t rem = o, s_off = 0, d_off = 0;
      for (size_t j = nd - 1; j-- > 0;) {
        const int64_t i = rem % shape[j];
        s_off += i * src_strides[j];
        d_off += i * dst_strides[j];
        rem /= shape[j];
      }
      const char* s = src + static_cast<size_t>(s_off) * ses;
      char* d = dst + static_cast<size_t>(d_off) * des;
      if (s_inner == 1 && d_inner == 1) {
        convert(s, st, d, dt, static_cast<size_t>(inner));
      } else {
        for (int64_t c = 0; c < inner; ++c)
          convert(s + static_cast<size_t>(c * s_inner) * ses, st, d + static_cast<size_t>(c * d_inner) * des, dt, 1);
      }
    }
  }
};

}  // namespace

void DeviceMemory::copy_strided(const Shape& shape, const Shape&, const void*, DType src_dtype, const Shape&, void*,
                                DType dst_dtype) {
  fail("a strided ", dtype_name(src_dtype), " -> ", dtype_name(dst_dtype), " copy of ", shape_str(shape),
       " has no implementation on this device");
}

size_t DeviceMemory::mark() {
  host_marks_.push_back(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count());
  return host_marks_.size() - 1;
}

double DeviceMemory::elapsed_ms(size_t from, size_t to) {
  PD_CHECK(from < host_marks_.size() && to < host_marks_.size(), "elapsed_ms: no such mark");
  return host_marks_[to] - host_marks_[from];
}

SideQueue::SideQueue(Device device) {
  static const bool enabled = [] {
    const char* env = std::getenv("PARADIT_TWO_STREAMS");
    return env && std::string(env) == "1";
  }();
  if (!enabled || device == Device::CPU || !has_device_memory(device)) return;
  memory_ = &device_memory(device);
  memory_->fork();
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
