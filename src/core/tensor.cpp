#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "core/error.h"
#include "core/host_allocator.h"

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

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  for (int64_t d : shape) PD_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  const size_t bytes = t.nbytes();
  void* p = bytes ? host_alloc(bytes) : nullptr;
  PD_CHECK(p != nullptr || bytes == 0, "out of memory allocating ", bytes, " bytes for ", t.describe());
  t.data_ = p;
  t.owner_ = std::shared_ptr<const void>(p, [bytes](const void* q) { host_free(const_cast<void*>(q), bytes); });
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  if (t.nbytes()) std::memset(t.data_, 0, t.nbytes());
  return t;
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
  t.dtype_ = dtype;
  t.device_ = device;
  t.data_ = const_cast<void*>(data);
  t.owner_ = std::move(keep_alive);
  return t;
}

int64_t Tensor::size(int64_t d) const {
  const int64_t n = dim();
  if (d < 0) d += n;
  PD_CHECK(d >= 0 && d < n, "dimension ", d, " out of range for ", describe());
  return shape_[static_cast<size_t>(d)];
}

Tensor Tensor::reshape(const Shape& shape) const {
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
  return t;
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  PD_CHECK(dim() >= 1 && 0 <= begin && begin <= end && end <= shape_[0], "rows(", begin, ", ", end,
           ") out of range for ", describe());
  const size_t row_bytes = shape_[0] ? nbytes() / static_cast<size_t>(shape_[0]) : 0;
  Tensor t = *this;
  t.shape_[0] = end - begin;
  t.data_ = static_cast<char*>(data_) + row_bytes * static_cast<size_t>(begin);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  PD_CHECK(device_ == Device::CPU, "Tensor::to: only CPU tensors can be converted here");
  Tensor out = empty(shape_, dtype);
  convert(data_, dtype_, out.data_, dtype, static_cast<size_t>(numel()));
  return out;
}

float Tensor::item_f32(int64_t i) const {
  PD_CHECK(i >= 0 && i < numel(), "index ", i, " out of range for ", describe());
  float v;
  convert(static_cast<const char*>(data_) + static_cast<size_t>(i) * dtype_size(dtype_), dtype_, &v, DType::F32, 1);
  return v;
}

std::vector<float> Tensor::to_f32_vector() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  convert(data_, dtype_, out.data(), DType::F32, out.size());
  return out;
}

std::string Tensor::describe() const { return str_cat(dtype_name(dtype_), shape_str(shape_)); }

}  // namespace paradit
