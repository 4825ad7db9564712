// Byte-level copies behind concat, split and permute; they work for every dtype.
#include <cstring>

#include "backend/cpu/cpu_ops.h"

namespace paradit::cpu {

void copy_strided_rows(const Tensor& src, int64_t outer, size_t src_row_bytes, Tensor& dst, size_t dst_row_bytes,
                       size_t dst_offset_bytes, size_t src_offset_bytes, size_t bytes_per_row) {
  const char* s = static_cast<const char*>(src.raw());
  char* d = static_cast<char*>(dst.raw());
#pragma omp parallel for if (outer * static_cast<int64_t>(bytes_per_row) > (1 << 20))
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(d + static_cast<size_t>(o) * dst_row_bytes + dst_offset_bytes,
                s + static_cast<size_t>(o) * src_row_bytes + src_offset_bytes, bytes_per_row);
}

void permute(const Tensor& x, const std::vector<int64_t>& order, Tensor& y) {
  const int64_t nd = x.dim();
  const size_t elem = dtype_size(x.dtype());
  // Strides of x (in elements), listed in the order of y's dimensions.
  std::vector<int64_t> x_strides(static_cast<size_t>(nd)), src_stride(static_cast<size_t>(nd));
  int64_t s = 1;
  for (int64_t i = nd - 1; i >= 0; --i) {
    x_strides[static_cast<size_t>(i)] = s;
    s *= x.size(i);
  }
  for (int64_t i = 0; i < nd; ++i) src_stride[static_cast<size_t>(i)] = x_strides[static_cast<size_t>(order[static_cast<size_t>(i)])];
  const Shape& out_shape = y.shape();
  const int64_t last = nd ? out_shape.back() : 1;
  const int64_t last_stride = nd ? src_stride.back() : 1;
  const int64_t rows = last ? y.numel() / last : 0;
  const char* src = static_cast<const char*>(x.raw());
  char* dst = static_cast<char*>(y.raw());
#pragma omp parallel for if (y.numel() > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, offset = 0;
    for (int64_t dim = nd - 2; dim >= 0; --dim) {
      const int64_t extent = out_shape[static_cast<size_t>(dim)];
      offset += (rem % extent) * src_stride[static_cast<size_t>(dim)];
      rem /= extent;
    }
    char* out = dst + static_cast<size_t>(r * last) * elem;
    if (last_stride == 1) {
      std::memcpy(out, src + static_cast<size_t>(offset) * elem, static_cast<size_t>(last) * elem);
    } else {
      for (int64_t i = 0; i < last; ++i)
        std::memcpy(out + static_cast<size_t>(i) * elem, src + static_cast<size_t>(offset + i * last_stride) * elem, elem);
    }
  }
}

}  // namespace paradit::cpu
