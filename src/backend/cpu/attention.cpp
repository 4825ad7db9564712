// Flash-style attention on the CPU: each task owns one block of query rows of one (batch,
// head), walks the keys block by block and keeps a running max and sum (online softmax), so
// the N x N score matrix never exists. The two block products go through oneDNN's sgemm.
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/fast_math.h"
#include "core/dtype.h"

namespace paradit::cpu {
namespace {

constexpr int64_t kQueryBlock = 64;
constexpr int64_t kKeyBlock = 256;

struct Scratch {
  std::vector<float> scores, acc, row_max, row_sum;
  Scratch(int64_t d) : scores(kQueryBlock * kKeyBlock), acc(kQueryBlock * d), row_max(kQueryBlock), row_sum(kQueryBlock) {}
};

// Attends rows [q0, q0 + nq) of one head. q, k, v, out point at that head's [N, D] slices;
// bias (or null) at the head's [Nq_total, nk] additive bias.
void attend_block(const float* q, const float* k, const float* v, const float* bias, float* out, float* lse,
                  int64_t q0, int64_t nq, int64_t nk, int64_t d, float scale, bool causal, Scratch& s) {
  std::fill(s.acc.begin(), s.acc.begin() + nq * d, 0.f);
  std::fill(s.row_max.begin(), s.row_max.end(), -INFINITY);
  std::fill(s.row_sum.begin(), s.row_sum.end(), 0.f);
  const int64_t key_end = causal ? std::min(nk, q0 + nq) : nk;
  for (int64_t k0 = 0; k0 < key_end; k0 += kKeyBlock) {
    const int64_t bk = std::min(kKeyBlock, key_end - k0);
    float* S = s.scores.data();
    dnnl_sgemm('N', 'T', nq, bk, d, scale, q + q0 * d, d, k + k0 * d, d, 0.f, S, bk);
    for (int64_t i = 0; i < nq; ++i) {
      float* row = S + i * bk;
      if (bias) {
        const float* b = bias + (q0 + i) * nk + k0;
        for (int64_t j = 0; j < bk; ++j) row[j] += b[j];
      }
      if (causal)
        for (int64_t j = std::max<int64_t>(0, q0 + i + 1 - k0); j < bk; ++j) row[j] = -INFINITY;
      float block_max = -INFINITY;
#pragma omp simd reduction(max : block_max)
      for (int64_t j = 0; j < bk; ++j) block_max = fast_max(block_max, row[j]);
      const float new_max = fast_max(s.row_max[i], block_max);
      if (new_max == -INFINITY) {  // every key so far masked for this row: it adds nothing
        std::fill(row, row + bk, 0.f);
        continue;
      }
      const float correction = s.row_max[i] == -INFINITY ? 0.f : fast_exp(s.row_max[i] - new_max);
      float sum = 0.f;
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j < bk; ++j) {
        // masked keys (-inf) must give exactly 0, which the clamped exp alone would not
        row[j] = row[j] == -INFINITY ? 0.f : fast_exp(row[j] - new_max);
        sum += row[j];
      }
      s.row_sum[i] = s.row_sum[i] * correction + sum;
      s.row_max[i] = new_max;
      float* acc = s.acc.data() + i * d;
      for (int64_t c = 0; c < d; ++c) acc[c] *= correction;
    }
    dnnl_sgemm('N', 'N', nq, d, bk, 1.f, S, bk, v + k0 * d, d, 1.f, s.acc.data(), d);
  }
  for (int64_t i = 0; i < nq; ++i) {
    const float inv = s.row_sum[i] > 0.f ? 1.f / s.row_sum[i] : 0.f;
    const float* acc = s.acc.data() + i * d;
    float* o = out + (q0 + i) * d;
    for (int64_t c = 0; c < d; ++c) o[c] = acc[c] * inv;
    if (lse) lse[q0 + i] = s.row_sum[i] > 0.f ? s.row_max[i] + std::log(s.row_sum[i]) : -INFINITY;
  }
}

}  // namespace

void attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal, const Tensor* bias,
               Tensor& out, Tensor* lse) {
  if (q.dtype() == DType::BF16) {
    if (bf16_attention_supports(q.size(3)))
      return attention_bf16(q, k, v, scale, causal, bias, out, best_bf16_attention_kernel());
    return attention(q.to(DType::F32), k.to(DType::F32), v.to(DType::F32), scale, causal, bias, out, lse);
  }
  const int64_t heads = q.size(0) * q.size(1), per_batch = q.size(1), nq = q.size(2), nk = k.size(2), d = q.size(3);
  const int64_t q_blocks = (nq + kQueryBlock - 1) / kQueryBlock;
#pragma omp parallel
  {
    Scratch scratch(d);
#pragma omp for collapse(2) schedule(dynamic)
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t b = 0; b < q_blocks; ++b) {
        const int64_t q0 = b * kQueryBlock;
        const float* head_bias = bias ? bias->data<float>() + (h % per_batch) * nq * nk : nullptr;
        attend_block(q.data<float>() + h * nq * d, k.data<float>() + h * nk * d, v.data<float>() + h * nk * d,
                     head_bias, out.data<float>() + h * nq * d, lse ? lse->data<float>() + h * nq : nullptr, q0, std::min(kQueryBlock, nq - q0), nk, d, scale, causal,
                     scratch);
      }
    }
  }
}

void attention_merge(Tensor& out_a, Tensor& lse_a, const Tensor& out_b, const Tensor& lse_b) {
  const int64_t rows = lse_a.numel(), d = out_a.numel() / rows;
  float* oa = out_a.data<float>();
  float* la = lse_a.data<float>();
  const float* ob = out_b.data<float>();
  const float* lb = lse_b.data<float>();
#pragma omp parallel for if (rows * d > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    if (lb[r] == -INFINITY) continue;  // b saw no keys for this row
    const float m = std::max(la[r], lb[r]);
    const float wa = la[r] == -INFINITY ? 0.f : std::exp(la[r] - m), wb = std::exp(lb[r] - m);
    const float total = wa + wb;
    const float ca = wa / total, cb = wb / total;
    float* o = oa + r * d;
    const float* p = ob + r * d;
    for (int64_t c = 0; c < d; ++c) o[c] = o[c] * ca + p[c] * cb;
    la[r] = m + std::log(total);
  }
}

}  // namespace paradit::cpu
