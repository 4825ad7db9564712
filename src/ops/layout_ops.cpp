// concat, split, chunk and permute: shape logic here, byte copies in the backend.
#include "backend/cpu/cpu_ops.h"
#include "core/device_memory.h"
#include "core/error.h"
#include "ops/ops.h"

namespace paradit::ops {
namespace {

int64_t normalize_dim(const char* op, int64_t dim, int64_t ndim) {
  if (dim < 0) dim += ndim;
  PD_CHECK(dim >= 0 && dim < ndim, op, ": dimension out of range for a ", ndim, "-d tensor");
  return dim;
}

// Elements before `dim` (outer) and from `dim + 1` on (inner).
void outer_inner(const Shape& s, int64_t dim, int64_t* outer, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int64_t i = 0; i < static_cast<int64_t>(s.size()); ++i) {
    if (i < dim) *outer *= s[static_cast<size_t>(i)];
    if (i > dim) *inner *= s[static_cast<size_t>(i)];
  }
}

}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  PD_CHECK(!xs.empty(), "concat: no tensors");
  const Tensor& first = xs[0];
  dim = normalize_dim("concat", dim, first.dim());
  Shape out_shape = first.shape();
  out_shape[static_cast<size_t>(dim)] = 0;
  for (const Tensor& x : xs) {
    PD_CHECK(x.device() == first.device() && x.dtype() == first.dtype() && x.dim() == first.dim(),
             "concat: tensors differ in device, dtype or rank: ", first.describe(), " vs ", x.describe());
    PD_CHECK(x.is_contiguous(), "concat: ", x.describe(), " is a strided view; this op takes contiguous tensors");
    for (int64_t i = 0; i < x.dim(); ++i)
      PD_CHECK(i == dim || x.size(i) == first.size(i), "concat: ", x.describe(), " does not match ", first.describe(),
               " outside dimension ", dim);
    out_shape[static_cast<size_t>(dim)] += x.size(dim);
  }
  Tensor y = Tensor::empty(out_shape, first.dtype(), first.device());
  if (first.device() != Device::CPU) {  // each input copied into its slice of y, on the device
    int64_t offset = 0;
    for (const Tensor& x : xs) {
      const Tensor part = y.slice(dim, offset, offset + x.size(dim));
      if (x.numel())
        device_memory(x.device()).copy_strided(x.shape(), x.strides(), x.raw(), x.dtype(), part.strides(),
                                               const_cast<void*>(part.raw()), y.dtype());
      offset += x.size(dim);
    }
    return y;
  }
  int64_t outer, inner;
  outer_inner(out_shape, dim, &outer, &inner);
  const size_t elem = dtype_size(first.dtype());
  const size_t out_row = static_cast<size_t>(out_shape[static_cast<size_t>(dim)] * inner) * elem;
  size_t offset = 0;
  for (const Tensor& x : xs) {
    const size_t row = static_cast<size_t>(x.size(dim) * inner) * elem;
    cpu::copy_strided_rows(x, outer, row, y, out_row, offset, 0, row);
    offset += row;
  }
  return y;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  PD_CHECK(x.is_contiguous(), "split: ", x.describe(), " is a strided view; slice it instead");
  dim = normalize_dim("split", dim, x.dim());
  int64_t total = 0;
  for (int64_t s : sizes) {
    PD_CHECK(s >= 0, "split: negative size");
    total += s;
  }
  PD_CHECK(total == x.size(dim), "split: sizes add up to ", total, " but dimension ", dim, " of ", x.describe(),
           " is ", x.size(dim));
  if (x.device() != Device::CPU) {  // each part a slice made contiguous on the device
    std::vector<Tensor> out;
    int64_t offset = 0;
    for (int64_t s : sizes) {
      out.push_back(x.slice(dim, offset, offset + s).contiguous());
      offset += s;
    }
    return out;
  }
  int64_t outer, inner;
  outer_inner(x.shape(), dim, &outer, &inner);
  const size_t elem = dtype_size(x.dtype());
  const size_t in_row = static_cast<size_t>(x.size(dim) * inner) * elem;
  std::vector<Tensor> out;
  size_t offset = 0;
  for (int64_t s : sizes) {
    Shape shape = x.shape();
    shape[static_cast<size_t>(dim)] = s;
    Tensor y = Tensor::empty(shape, x.dtype());
    const size_t row = static_cast<size_t>(s * inner) * elem;
    cpu::copy_strided_rows(x, outer, in_row, y, row, 0, offset, row);
    offset += row;
    out.push_back(std::move(y));
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  dim = normalize_dim("chunk", dim, x.dim());
  PD_CHECK(chunks > 0 && x.size(dim) % chunks == 0, "chunk: dimension ", dim, " of ", x.describe(),
           " does not split into ", chunks, " equal chunks");
  return split(x, std::vector<int64_t>(static_cast<size_t>(chunks), x.size(dim) / chunks), dim);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& order) {
  PD_CHECK(static_cast<int64_t>(order.size()) == x.dim(), "permute: order has ", order.size(), " entries for ",
           x.describe());
  std::vector<bool> seen(order.size(), false);
  Shape out_shape;
  for (int64_t d : order) {
    PD_CHECK(d >= 0 && d < x.dim() && !seen[static_cast<size_t>(d)], "permute: order is not a permutation");
    seen[static_cast<size_t>(d)] = true;
    out_shape.push_back(x.size(d));
  }
  if (!x.is_contiguous() || x.device() != Device::CPU) return x.permuted(order).to(x.dtype());  // a strided gather
  Tensor y = Tensor::empty(out_shape, x.dtype());
  if (y.numel()) cpu::permute(x, order, y);
  return y;
}

}  // namespace paradit::ops
