// Tensor: a shape, a dtype, a device and a reference to bytes. The bytes are either owned
// (64-byte aligned heap memory) or borrowed from a memory-mapped weight file, which the
// tensor keeps alive through a shared owner. A tensor has strides (in elements): the owning
// constructors make it contiguous and row-major; views (slice, select, unflatten, permuted,
// reshape of a contiguous tensor, row ranges) share the bytes and may be strided. Ops accept
// strided views only where they say so (ops.h); elsewhere a caller makes one contiguous,
// so a copy happens exactly where a kernel needs one.
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

  // Uninitialised / zeroed owning tensors, on the CPU unless `device` says otherwise (memory
  // from that device's allocator, core/device_memory.h).
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);
  // A view over memory owned by `keep_alive` (for example a mapped file, or device memory for
  // the NCCL communicator).
  static Tensor borrow(const Shape& shape, DType dtype, const void* data, std::shared_ptr<const void> keep_alive,
                       Device device = Device::CPU);

  // A view of a read-only file mapping (a checkpoint's tensor), which the kernel can drop
  // from memory and read again on demand.
  static Tensor borrow_file(const Shape& shape, DType dtype, const void* data, std::shared_ptr<const void> keep_alive);
  bool file_backed() const { return file_backed_; }
  // For a file-backed tensor whose bytes were copied elsewhere (a weight reordered at load):
  // drops its whole pages from this process's memory (they stay in the file). Else nothing.
  void release_file_pages() const;

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

  // Strides in elements, one per dimension; contiguous row-major unless a view changed them.
  const Shape& strides() const { return strides_; }
  int64_t stride(int64_t d) const;
  bool is_contiguous() const;

  // Same bytes, new shape (one dimension may be -1); the tensor must be contiguous.
  Tensor reshape(const Shape& shape) const;
  // Rows [begin, end) of the outermost dimension, as a view.
  Tensor rows(int64_t begin, int64_t end) const;
  // Indices [begin, end) of dimension `dim`, as a view.
  Tensor slice(int64_t dim, int64_t begin, int64_t end) const;
  // Index i of dimension `dim`, which disappears, as a view.
  Tensor select(int64_t dim, int64_t i) const;
  // Dimension `dim` split into `sizes` (their product is its size; one may be -1), as a view.
  Tensor unflatten(int64_t dim, const Shape& sizes) const;
  // The dimensions reordered (out dimension i is this tensor's dimension order[i]), as a view.
  Tensor permuted(const std::vector<int64_t>& order) const;
  // This tensor when it is contiguous, else a contiguous copy of it (CPU).
  Tensor contiguous() const;
  // A contiguous deep copy converted to `dtype` (a plain copy when the dtype is the same); CPU.
  Tensor to(DType dtype) const;
  // This tensor on `device`: itself when it is there already, else a contiguous copy there.
  Tensor to(Device device) const;
  Tensor clone() const { return to(dtype_); }
  // Element i converted to f32, for tests and small host-side reads.
  float item_f32(int64_t i) const;
  std::vector<float> to_f32_vector() const;

  std::string describe() const;  // "BF16[2, 3]"

 private:
  static Shape contiguous_strides(const Shape& shape);
  Shape shape_;
  Shape strides_;
  DType dtype_ = DType::F32;
  Device device_ = Device::CPU;
  bool file_backed_ = false;
  void* data_ = nullptr;
  std::shared_ptr<const void> owner_;
};

}  // namespace paradit
