// Device memory for a step: one cudaMalloc at start-up, then bump allocations (256-byte
// aligned) that are all released at once by reset(), so no cudaMalloc happens inside a step
// and a CUDA graph can capture it.
#pragma once

#include <cstddef>

namespace paradit::cuda {

class DeviceArena {
 public:
  explicit DeviceArena(size_t bytes);
  ~DeviceArena();
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;

  void* allocate(size_t bytes);  // throws when the arena is full, naming the sizes
  template <typename T>
  T* allocate_n(size_t count) {
    return static_cast<T*>(allocate(count * sizeof(T)));
  }
  void reset() { used_ = 0; }
  size_t used() const { return used_; }
  size_t capacity() const { return capacity_; }
  size_t peak() const { return peak_; }

 private:
  char* base_ = nullptr;
  size_t capacity_ = 0, used_ = 0, peak_ = 0;
};

// Whole-lifetime device memory (weights): a cudaMalloc'd buffer freed with its owner.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }
  void upload(const void* host, size_t bytes);
  void download(void* host, size_t bytes) const;

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace paradit::cuda
