// Tensor: a shape, a dtype, a device and a reference to bytes. The bytes are either owned
// (64-byte aligned heap memory) or borrowed from a memory-mapped weight file, which the
// tensor keeps alive through a shared owner. Tensors are always contiguous and row-major;
// views (reshape, row ranges) share the bytes.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace paradit {

enum class Device : uint8_t { CPU, CUDA };
const char* device_name(Device d);

using Shape = std::vector<int64_t>;
int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[2, 3, 4]"

class Tensor {
 public:
  Tensor() = default;

  // Uninitialised / zeroed owning tensors on the CPU.
  static Tensor empty(const Shape& shape, DType dtype = DType::F32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32);
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);
  // A view over memory owned by `keep_alive` (for example a mapped file, or device memory for
  // the NCCL communicator).
  static Tensor borrow(const Shape& shape, DType dtype, const void* data, std::shared_ptr<const void> keep_alive,
                       Device device = Device::CPU);

  bool defined() const { return data_ != nullptr || numel() == 0; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  // Size along dimension d; negative d counts from the end.
  int64_t size(int64_t d) const;
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }

  template <typename T>
  T* data() { return static_cast<T*>(data_); }
  template <typename T>
  const T* data() const { return static_cast<const T*>(data_); }
  void* raw() { return data_; }
  const void* raw() const { return data_; }

  // Same bytes, new shape (one dimension may be -1).
  Tensor reshape(const Shape& shape) const;
  // Rows [begin, end) of the outermost dimension, as a view.
  Tensor rows(int64_t begin, int64_t end) const;
  // A deep copy converted to `dtype` (a plain copy when the dtype is the same).
  Tensor to(DType dtype) const;
  Tensor clone() const { return to(dtype_); }
  // Element i converted to f32, for tests and small host-side reads.
  float item_f32(int64_t i) const;
  std::vector<float> to_f32_vector() const;

  std::string describe() const;  // "BF16[2, 3]"

 private:
  Shape shape_;
  DType dtype_ = DType::F32;
  Device device_ = Device::CPU;
  void* data_ = nullptr;
  std::shared_ptr<const void> owner_;
};

}  // namespace paradit
