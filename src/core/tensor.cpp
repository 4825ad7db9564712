#include "core/tensor.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "core/error.h"
#include "core/device_memory.h"
#include "core/host_allocator.h"
#include "core/step_arena.h"

namespace paradit {

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < s.size(); ++i) out << (i ? ", " : "") << s[i];
  out << ']';
  return out.str();
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) PD_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  const size_t bytes = t.nbytes();
  if (device == Device::CPU) {  // the common case, without the virtual call
    // Inside a step with a workspace (core/step_arena.h), the arena serves it.
    if (auto owner = arena_allocate(bytes, &t.data_)) {
      t.owner_ = std::move(owner);
      return t;
    }
    void* p = bytes ? host_alloc(bytes) : nullptr;
    PD_CHECK(p != nullptr || bytes == 0, "out of memory allocating ", bytes, " bytes for ", t.describe());
    t.data_ = p;
    t.owner_ = std::shared_ptr<const void>(p, [bytes](const void* q) { host_free(const_cast<void*>(q), bytes); });
    return t;
  }
  DeviceMemory& memory = device_memory(device);
  void* p = bytes ? memory.allocate(bytes) : nullptr;
  t.data_ = p;
  t.owner_ = std::shared_ptr<const void>(p, [bytes, &memory](const void* q) {
    if (q) memory.release(const_cast<void*>(q), bytes);
  });
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (t.nbytes()) device_memory(device).zero(t.data_, t.nbytes());
  return t;
}

Tensor Tensor::to(Device device) const {
  if (device == device_) return *this;
  const Tensor src = contiguous();
  Tensor out = empty(shape_, dtype_, device);
  if (nbytes() == 0) return out;
  if (device == Device::CPU) device_memory(device_).copy_to_host(out.data_, src.data_, nbytes());
  else if (device_ == Device::CPU) device_memory(device).copy_from_host(out.data_, src.data_, nbytes());
  else fail("Tensor::to: copies between ", device_name(device_), " and ", device_name(device), " go through the host");
  return out;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
  PD_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
           " values do not fill shape ", shape_str(shape));
  Tensor t = empty(shape, DType::F32);
  if (!values.empty()) std::memcpy(t.data_, values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::borrow(const Shape& shape, DType dtype, const void* data, std::shared_ptr<const void> keep_alive,
                      Device device) {
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  t.data_ = const_cast<void*>(data);
  t.owner_ = std::move(keep_alive);
  return t;
}

Tensor Tensor::borrow_file(const Shape& shape, DType dtype, const void* data, std::shared_ptr<const void> keep_alive) {
  Tensor t = borrow(shape, dtype, data, std::move(keep_alive));
  t.file_backed_ = true;
  return t;
}

void Tensor::release_file_pages() const {
  if (!file_backed_ || !is_contiguous() || nbytes() == 0) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data_) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data_) + nbytes()) / page * page;
  // Private read-only file pages: dropping them loses nothing, a later read faults them in again.
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

int64_t Tensor::size(int64_t d) const {
  const int64_t n = dim();
  if (d < 0) d += n;
  PD_CHECK(d >= 0 && d < n, "dimension ", d, " out of range for ", describe());
  return shape_[static_cast<size_t>(d)];
}

Shape Tensor::contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t step = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = step;
    step *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

int64_t Tensor::stride(int64_t d) const {
  const int64_t n = dim();
  if (d < 0) d += n;
  PD_CHECK(d >= 0 && d < n, "dimension ", d, " out of range for ", describe());
  return strides_[static_cast<size_t>(d)];
}

bool Tensor::is_contiguous() const {
  int64_t step = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] != 1 && strides_[i] != step) return false;
    step *= shape_[i];
  }
  return true;
}

Tensor Tensor::reshape(const Shape& shape) const {
  PD_CHECK(is_contiguous(), "reshape: ", describe(), " is a strided view; make it contiguous first");
  Shape out = shape;
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      PD_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      known *= out[i];
    }
  }
  if (infer >= 0) {
    PD_CHECK(known > 0 && numel() % known == 0, "reshape: cannot infer -1 in ", shape_str(shape), " for ", describe());
    out[static_cast<size_t>(infer)] = numel() / known;
  }
  PD_CHECK(shape_numel(out) == numel(), "reshape: ", describe(), " cannot become ", shape_str(out));
  Tensor t = *this;
  t.shape_ = out;
  t.strides_ = contiguous_strides(out);
  return t;
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  PD_CHECK(dim() >= 1 && 0 <= begin && begin <= end && end <= shape_[0], "rows(", begin, ", ", end,
           ") out of range for ", describe());
  return slice(0, begin, end);
}

Tensor Tensor::slice(int64_t d, int64_t begin, int64_t end) const {
  const int64_t n = dim();
  if (d < 0) d += n;
  PD_CHECK(d >= 0 && d < n, "slice: dimension ", d, " out of range for ", describe());
  const size_t i = static_cast<size_t>(d);
  PD_CHECK(0 <= begin && begin <= end && end <= shape_[i], "slice(", d, ", ", begin, ", ", end, ") out of range for ",
           describe());
  Tensor t = *this;
  t.shape_[i] = end - begin;
  if (begin < shape_[i])
    t.data_ = static_cast<char*>(data_) + static_cast<size_t>(begin * strides_[i]) * dtype_size(dtype_);
  return t;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  const int64_t n = dim();
  if (d < 0) d += n;
  PD_CHECK(d >= 0 && d < n, "select: dimension ", d, " out of range for ", describe());
  Tensor t = slice(d, index, index + 1);
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::unflatten(int64_t d, const Shape& sizes) const {
  const int64_t n = dim();
  if (d < 0) d += n;
  PD_CHECK(d >= 0 && d < n && !sizes.empty(), "unflatten: dimension ", d, " out of range for ", describe());
  const size_t i = static_cast<size_t>(d);
  Shape parts = sizes;
  int64_t known = 1;
  int infer = -1;
  for (size_t j = 0; j < parts.size(); ++j) {
    if (parts[j] == -1 && infer < 0) infer = static_cast<int>(j);
    else {
      PD_CHECK(parts[j] >= 0, "unflatten: bad sizes ", shape_str(sizes), " for ", describe());
      known *= parts[j];
    }
  }
  if (infer >= 0) {
    PD_CHECK(known > 0 && shape_[i] % known == 0, "unflatten: cannot infer -1 in ", shape_str(sizes), " for ",
             describe());
    parts[static_cast<size_t>(infer)] = shape_[i] / known;
  }
  PD_CHECK(shape_numel(parts) == shape_[i], "unflatten: dimension ", d, " of ", describe(), " cannot become ",
           shape_str(parts));
  Shape inner = contiguous_strides(parts);
  for (auto& s : inner) s *= strides_[i];
  Tensor t = *this;
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  t.shape_.insert(t.shape_.begin() + d, parts.begin(), parts.end());
  t.strides_.insert(t.strides_.begin() + d, inner.begin(), inner.end());
  return t;
}

Tensor Tensor::permuted(const std::vector<int64_t>& order) const {
  PD_CHECK(static_cast<int64_t>(order.size()) == dim(), "permuted: order has ", order.size(), " entries for ",
           describe());
  std::vector<bool> seen(order.size(), false);
  Tensor t = *this;
  for (size_t j = 0; j < order.size(); ++j) {
    const int64_t d = order[j];
    PD_CHECK(d >= 0 && d < dim() && !seen[static_cast<size_t>(d)], "permuted: order is not a permutation");
    seen[static_cast<size_t>(d)] = true;
    t.shape_[j] = shape_[static_cast<size_t>(d)];
    t.strides_[j] = strides_[static_cast<size_t>(d)];
  }
  return t;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return to(dtype_);
}

Tensor Tensor::to(DType dtype) const {
  Tensor out = empty(shape_, dtype, device_);
  if (device_ != Device::CPU) {  // the device converts and gathers in one pass
    if (numel())
      device_memory(device_).copy_strided(shape_, strides_, data_, dtype_, out.strides_, out.data_, dtype);
    return out;
  }
  if (is_contiguous()) convert(data_, dtype_, out.data_, dtype, static_cast<size_t>(numel()));
  else device_memory(Device::CPU).copy_strided(shape_, strides_, data_, dtype_, out.strides_, out.data_, dtype);
  return out;
}

float Tensor::item_f32(int64_t i) const {
  PD_CHECK(i >= 0 && i < numel(), "index ", i, " out of range for ", describe());
  if (device_ != Device::CPU) return to(Device::CPU).item_f32(i);
  int64_t offset = 0, rem = i;
  for (size_t j = shape_.size(); j-- > 0;) {
    offset += (rem % shape_[j]) * strides_[j];
    rem /= shape_[j];
  }
  float v;
  convert(static_cast<const char*>(data_) + static_cast<size_t>(offset) * dtype_size(dtype_), dtype_, &v, DType::F32,
          1);
  return v;
}

std::vector<float> Tensor::to_f32_vector() const {
  if (device_ != Device::CPU) return to(Device::CPU).to_f32_vector();
  if (!is_contiguous()) return contiguous().to_f32_vector();
  std::vector<float> out(static_cast<size_t>(numel()));
  convert(data_, dtype_, out.data(), DType::F32, out.size());
  return out;
}

std::string Tensor::describe() const { return str_cat(dtype_name(dtype_), shape_str(shape_)); }

}  // namespace paradit
