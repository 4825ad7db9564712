#include "parallel/token_shard.h"

#include <algorithm>

#include "core/device_memory.h"
#include "core/error.h"
#include "ops/ops.h"

namespace paradit {

namespace {

// Copies `src` into the view `dst` (same shape and dtype) on their device: token blocks cut out
// of or into a [B, N, ...] tensor are strided views.
void copy_view(const Tensor& src, const Tensor& dst) {
  if (src.numel() == 0) return;
  device_memory(src.device()).copy_strided(src.shape(), src.strides(), src.raw(), src.dtype(), dst.strides(),
                                           const_cast<void*>(dst.raw()), dst.dtype());
}

}  // namespace

Tensor shard_tokens(const Tensor& x, int64_t index, int64_t parts) {
  PD_CHECK(x.dim() >= 2 && index >= 0 && index < parts, "shard_tokens: ", x.describe(), " part ", index, "/", parts);
  if (parts == 1) return x;
  const int64_t N = x.size(1), Nl = shard_length(N, parts);
  Shape shape = x.shape();
  shape[1] = Nl;
  Tensor out = Tensor::zeros(shape, x.dtype(), x.device());
  const int64_t begin = index * Nl, count = valid_tokens(N, begin, Nl);
  if (count > 0) copy_view(x.slice(1, begin, begin + count), out.slice(1, 0, count));
  return out;
}

Tensor gather_tokens(Communicator& comm, const Tensor& local, int64_t tokens) {
  const int64_t p = comm.size(), Nl = local.size(1);
  PD_CHECK(tokens <= p * Nl, "gather_tokens: ", tokens, " tokens from ", p, " shards of ", Nl);
  if (p == 1) return tokens == Nl ? local : local.slice(1, 0, tokens).contiguous();
  Shape stacked = local.shape();
  stacked.insert(stacked.begin(), p);
  Tensor all = Tensor::empty(stacked, local.dtype(), local.device());  // [p, B, Nl, ...]
  comm.all_gather(local, all);
  Shape shape = local.shape();
  shape[1] = tokens;
  Tensor out = Tensor::empty(shape, local.dtype(), local.device());
  for (int64_t r = 0; r < p; ++r) {
    const int64_t count = valid_tokens(tokens, r * Nl, Nl);
    if (count > 0) copy_view(all.select(0, r).slice(1, 0, count), out.slice(1, r * Nl, r * Nl + count));
  }
  return out;
}

Tensor gather_rows(Communicator& comm, const Tensor& local) {
  if (comm.size() == 1) return local;
  const int64_t p = comm.size();
  Shape stacked = local.shape();
  stacked.insert(stacked.begin(), p);
  Tensor all = Tensor::empty(stacked, local.dtype(), local.device());  // [p, B, n, ...]
  comm.all_gather(local, all);
  std::vector<int64_t> order(stacked.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::swap(order[0], order[1]);  // [B, p, n, ...]
  Shape shape = local.shape();
  shape[1] *= p;
  return ops::permute(all, order).reshape(shape);
}

Tensor reduce_scatter_rows(Communicator& comm, const Tensor& partial) {
  if (comm.size() == 1) return partial;
  const int64_t p = comm.size(), rows = partial.size(1), n = shard_length(rows, p);
  Tensor x = partial.dtype() == DType::F32 ? partial : partial.to(DType::F32);
  if (n * p != rows) {  // pad with zero rows
    Shape padded = x.shape();
    padded[1] = n * p - rows;
    x = ops::concat({x, Tensor::zeros(padded, DType::F32, x.device())}, 1);
  }
  Shape split = x.shape();  // [B, p, n, ...] -> [p, B, n, ...]: rank i's rows contiguous
  split[1] = n;
  split.insert(split.begin() + 1, p);
  std::vector<int64_t> order(split.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::swap(order[0], order[1]);
  const Tensor send = ops::permute(x.reshape(split), order);
  Shape out_shape = partial.shape();
  out_shape[1] = n;
  Tensor out = Tensor::empty(out_shape, DType::F32, partial.device());
  comm.reduce_scatter(send, out);
  return out;
}

Tensor gather_batch(Communicator& comm, const Tensor& local) {
  if (comm.size() == 1) return local;
  Shape shape = local.shape();
  shape[0] *= comm.size();
  Tensor out = Tensor::empty(shape, local.dtype(), local.device());
  comm.all_gather(local, out);
  return out;
}

}  // namespace paradit
