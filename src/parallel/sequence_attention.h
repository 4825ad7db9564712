// Attention with the image tokens sharded across the sp group (xDiT's USP, the seed's ring
// joint attention).
//
// Each rank brings its image shard's q, k, v [B, H, Nl, d] and, for joint attention, the prompt's
// [B, H, M, d], which every rank of the group holds in full. Ulysses (degree U, an all-to-all
// inside groups of U ranks) trades heads for sequence first: each rank then has H/U heads of U
// shards. The ring (the other sp/U ranks) then passes those K/V blocks round while each rank
// attends its queries to the block it holds, merging the partial results by log-sum-exp; the
// prompt K/V are attended once, locally. Padded tail tokens are cut from the key blocks, never
// attended. The results go back through the inverse all-to-all, and the prompt rows' heads are
// gathered, so the output has the input's layout.
#pragma once

#include <optional>

#include "parallel/groups.h"

namespace paradit {

struct SequenceAttentionOutput {
  Tensor image;                   // [B, H, Nl, d]
  std::optional<Tensor> prompt;   // [B, H, M, d] when prompt q/k/v were given
};

// image_tokens: the true (unpadded) image sequence length over the whole group. q, k, v are
// f32. The prompt pointers are all null (self-attention) or all set.
SequenceAttentionOutput sequence_parallel_attention(ParallelGroups& groups, const Tensor& q, const Tensor& k,
                                                    const Tensor& v, const Tensor* q_prompt, const Tensor* k_prompt,
                                                    const Tensor* v_prompt, int64_t image_tokens, float scale);

}  // namespace paradit
