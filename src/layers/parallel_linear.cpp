#include "layers/parallel_linear.h"

#include <algorithm>

#include "core/error.h"
#include "ops/ops.h"
#include "parallel/token_shard.h"

namespace paradit {

TpSplit tp_split(int64_t count, int64_t ranks, int64_t rank, int64_t multiple) {
  PD_CHECK(ranks >= 1 && rank >= 0 && rank < ranks && multiple >= 1, "internal: tp_split");
  const int64_t step = ranks * multiple;
  TpSplit s;
  s.per_rank = (count + step - 1) / step * multiple;
  s.begin = std::min(count, rank * s.per_rank);
  s.end = std::min(count, (rank + 1) * s.per_rank);
  return s;
}

Linear load_column_parallel(const LoadContext& ctx, const std::string& prefix, int64_t in_features,
                            int64_t out_features, int64_t unit, const TpSplit& split) {
  return Linear::load_shard(ctx, prefix, in_features, out_features,
                            {0, split.begin * unit, split.end * unit, split.per_rank * unit}, true);
}

Linear load_row_parallel(const LoadContext& ctx, const std::string& prefix, int64_t in_features,
                         int64_t out_features, int64_t unit, const TpSplit& split, bool with_bias) {
  return Linear::load_shard(ctx, prefix, in_features, out_features,
                            {1, split.begin * unit, split.end * unit, split.per_rank * unit}, with_bias);
}

Tensor sum_partials(Communicator* group, Tensor partial) {
  if (group && group->size() > 1) {
    if (partial.dtype() != DType::F32) partial = partial.to(DType::F32);
    group->all_reduce(partial);
  }
  return partial;
}

GatheredLinear GatheredLinear::load(const LoadContext& ctx, const std::string& prefix, int64_t in_features,
                                    int64_t out_features) {
  GatheredLinear g;
  g.out_features_ = out_features;
  if (!is_parallel(ctx) || ctx.parallel->tp->size() == 1) {
    g.local_ = Linear::load(ctx, prefix, in_features, out_features);
    return g;
  }
  g.tp_ = ctx.parallel->tp.get();
  const TpSplit split = tp_split(out_features, g.tp_->size(), g.tp_->rank());
  g.local_ = load_column_parallel(ctx, prefix, in_features, out_features, 1, split);
  return g;
}

Tensor GatheredLinear::forward(const Tensor& x) const {
  Tensor local = local_.forward(x);
  if (!tp_) return local;
  if (local.dtype() != DType::F32) local = local.to(DType::F32);
  const Tensor full = gather_rows(*tp_, local);  // [B, size * per_rank]
  const int64_t padded = full.size(1);
  return padded == out_features_ ? full : ops::split(full, {out_features_, padded - out_features_}, 1)[0];
}

}  // namespace paradit
