// Moving activations between the full and the per-rank layouts.
//
// Sequence sharding: N tokens over p ranks give each rank ceil(N/p) rows; rank i holds tokens
// [i*Nl, (i+1)*Nl) and zero rows past N, so only the global tail is padding. Attention masks
// those padded keys (sequence_attention.h); everything else is row-local and ignores them.
#pragma once

#include "core/tensor.h"
#include "parallel/communicator.h"

namespace paradit {

inline int64_t shard_length(int64_t tokens, int64_t parts) { return (tokens + parts - 1) / parts; }
// Valid (unpadded) tokens in the block of `length` tokens starting at `start`.
inline int64_t valid_tokens(int64_t total, int64_t start, int64_t length) {
  return std::max<int64_t>(0, std::min(length, total - start));
}

// On a group of one rank each of these returns its input (no copy, nothing queued).
// x [B, N, ...] -> this rank's [B, ceil(N/parts), ...], zero-padded.
Tensor shard_tokens(const Tensor& x, int64_t index, int64_t parts);
// The inverse: every rank's [B, Nl, ...] gathered over `comm` and trimmed to [B, tokens, ...].
Tensor gather_tokens(Communicator& comm, const Tensor& local, int64_t tokens);
// Along dimension 1: every rank's [B, n, ...] gathered in rank order into [B, size * n, ...]
// (Megatron sequence parallelism's rows before a column-parallel linear, Ulysses' heads, adaLN's
// output slices), and the partial sums
// [B, rows, ...] of a row-parallel linear added over the group and scattered back as each
// rank's [B, ceil(rows / size), ...] (zero rows pad `rows` up to a multiple of the size).
Tensor gather_rows(Communicator& comm, const Tensor& local);
Tensor reduce_scatter_rows(Communicator& comm, const Tensor& partial);
// Every rank's [b, ...] gathered over `comm` in rank order: [size * b, ...].
Tensor gather_batch(Communicator& comm, const Tensor& local);

}  // namespace paradit
