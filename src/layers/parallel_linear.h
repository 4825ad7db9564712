// Megatron-style tensor parallelism for linears. A column-parallel linear keeps a slice of the
// output features (attention heads, the feed-forward's inner features); the row-parallel one
// after it takes that slice as input and produces partial sums, added up over the tp group.
// Units (heads) that don't split evenly are padded with zero weights, which changes nothing:
// a zero head attends to zero values and its output columns are zero.
#pragma once

#include <string>

#include "layers/linear.h"

namespace paradit {

// `count` units over `ranks`: each rank holds `per_rank` (count rounded up so that it divides,
// and per_rank is a multiple of `multiple`); this rank's real units are [begin, end).
struct TpSplit {
  int64_t begin = 0, end = 0, per_rank = 0;
};
TpSplit tp_split(int64_t count, int64_t ranks, int64_t rank, int64_t multiple = 1);

// Output units [split.begin, split.end) of `unit` features each, padded to split.per_rank.
Linear load_column_parallel(const LoadContext& ctx, const std::string& prefix, int64_t in_features,
                            int64_t out_features, int64_t unit, const TpSplit& split);
// The matching input slice; the bias is loaded on tp rank 0 only, so the sum adds it once.
Linear load_row_parallel(const LoadContext& ctx, const std::string& prefix, int64_t in_features,
                         int64_t out_features, int64_t unit, const TpSplit& split, bool with_bias);
// Adds the partial outputs of the group in place (nothing for a group of one).
Tensor sum_partials(Communicator* group, Tensor partial);

// A column-parallel linear whose slices are gathered: every rank gets the whole output. The
// adaLN modulation (D -> 6D or 9D) uses it: its weights are a third of a block's.
class GatheredLinear {
 public:
  GatheredLinear() = default;
  static GatheredLinear load(const LoadContext& ctx, const std::string& prefix, int64_t in_features,
                             int64_t out_features);
  Tensor forward(const Tensor& x) const;  // x [B, in] -> [B, out]

 private:
  Linear local_;
  Communicator* tp_ = nullptr;
  int64_t out_features_ = 0;
};

}  // namespace paradit
