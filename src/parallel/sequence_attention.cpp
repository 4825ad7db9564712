#include "parallel/sequence_attention.h"

#include "core/error.h"
#include "ops/ops.h"
#include "parallel/token_shard.h"

namespace paradit {
namespace {

// [B, H, Nl, d] -> [B, H/U, U*Nl, d]: send each Ulysses peer its heads, receive every peer's
// tokens of this rank's heads (in peer order, which is sequence order).
Tensor scatter_heads(Communicator& comm, const Tensor& x) {
  const int64_t U = comm.size(), B = x.size(0), H = x.size(1), N = x.size(2), d = x.size(3);
  const Tensor send = ops::permute(x.reshape({B, U, H / U, N, d}), {1, 0, 2, 3, 4});  // [U, B, h, Nl, d]
  Tensor recv = Tensor::empty(send.shape(), send.dtype(), send.device());
  comm.all_to_all(send, recv);
  return ops::permute(recv, {1, 2, 0, 3, 4}).reshape({B, H / U, U * N, d});
}

// The inverse: [B, h, U*Nl, d] -> [B, U*h, Nl, d].
Tensor gather_heads(Communicator& comm, const Tensor& y) {
  const int64_t U = comm.size(), B = y.size(0), h = y.size(1), N = y.size(2) / U, d = y.size(3);
  const Tensor send = ops::permute(y.reshape({B, h, U, N, d}), {2, 0, 1, 3, 4});  // [U, B, h, Nl, d]
  Tensor recv = Tensor::empty(send.shape(), send.dtype(), send.device());
  comm.all_to_all(send, recv);
  return ops::permute(recv, {1, 0, 2, 3, 4}).reshape({B, U * h, N, d});
}

Tensor first_tokens(const Tensor& x, int64_t count) {
  return count == x.size(2) ? x : ops::split(x, {count, x.size(2) - count}, 2)[0];
}

}  // namespace

SequenceAttentionOutput sequence_parallel_attention(ParallelGroups& groups, const Tensor& q, const Tensor& k,
                                                    const Tensor& v, const Tensor* q_prompt, const Tensor* k_prompt,
                                                    const Tensor* v_prompt, int64_t image_tokens, float scale) {
  Communicator& ulysses = *groups.ulysses;
  Communicator& ring = *groups.ring;
  const int64_t U = ulysses.size(), R = ring.size();
  const bool joint = q_prompt != nullptr;
  PD_CHECK(joint == (k_prompt != nullptr) && joint == (v_prompt != nullptr), "sequence attention: prompt q/k/v");
  PD_CHECK(q.dim() == 4 && q.size(1) % U == 0, "sequence attention: ", q.size(1), " heads do not split over ", U,
           " Ulysses ranks (the loader pads heads to a multiple)");

  Tensor qi = q, ki = k, vi = v;
  Tensor qc, kc, vc;
  if (joint) qc = *q_prompt, kc = *k_prompt, vc = *v_prompt;
  if (U > 1) {
    qi = scatter_heads(ulysses, q);
    ki = scatter_heads(ulysses, k);
    vi = scatter_heads(ulysses, v);
    if (joint) {  // the prompt is replicated: keep this rank's heads
      const int64_t u = ulysses.rank();
      qc = ops::chunk(qc, U, 1)[u];
      kc = ops::chunk(kc, U, 1)[u];
      vc = ops::chunk(vc, U, 1)[u];
    }
  }
  const int64_t B = qi.size(0), h = qi.size(1), L = qi.size(2), d = qi.size(3);
  const Tensor queries = joint ? ops::concat({qi, qc}, 2) : qi;

  Tensor out, lse;
  bool started = false;
  auto fold = [&](const Tensor& kb, const Tensor& vb) {
    Tensor block_lse;
    Tensor block = ops::attention_lse(queries, kb, vb, scale, block_lse);
    if (!started) {
      out = std::move(block);
      lse = std::move(block_lse);
      started = true;
    } else {
      ops::attention_merge(out, lse, block, block_lse);
    }
  };
  if (joint) fold(kc, vc);

  // K and V travel together, one message per ring step, sent while this block is attended.
  Tensor kv = ops::concat({ki.reshape({1, B, h, L, d}), vi.reshape({1, B, h, L, d})}, 0);
  const int64_t me = ring.rank();
  for (int64_t step = 0; step < R; ++step) {
    std::unique_ptr<PendingExchange> pending;
    Tensor incoming;
    if (step + 1 < R) {
      incoming = Tensor::empty(kv.shape(), kv.dtype(), kv.device());
      pending = ring.start_send_recv(kv, static_cast<int>((me + 1) % R), incoming, static_cast<int>((me + R - 1) % R));
    }
    const int64_t slot = (me - step + R) % R;  // whose tokens this block holds
    const int64_t valid = valid_tokens(image_tokens, slot * L, L);
    if (valid > 0)
      fold(first_tokens(kv.rows(0, 1).reshape({B, h, L, d}), valid),
           first_tokens(kv.rows(1, 2).reshape({B, h, L, d}), valid));
    if (pending) {
      pending->wait();
      kv = std::move(incoming);
    }
  }
  PD_CHECK(started, "sequence attention: no valid keys");

  SequenceAttentionOutput result;
  if (joint) {
    auto parts = ops::split(out, {L, out.size(2) - L}, 2);
    result.image = parts[0];
    result.prompt = parts[1];
  } else {
    result.image = out;
  }
  if (U > 1) {
    result.image = gather_heads(ulysses, result.image);
    if (joint) result.prompt = gather_rows(ulysses, *result.prompt);
  }
  return result;
}

}  // namespace paradit
