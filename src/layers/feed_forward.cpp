#include "layers/feed_forward.h"

#include "core/error.h"
#include "ops/ops.h"
#include "parallel/token_shard.h"

namespace paradit {

GeluProjection GeluProjection::load(const LoadContext& ctx, const std::string& prefix, int64_t dim_in,
                                    int64_t dim_out, bool tanh_approximation) {
  GeluProjection g;
  g.proj_ = Linear::load(ctx, join(prefix, "proj"), dim_in, dim_out);
  g.tanh_ = tanh_approximation;
  return g;
}

GeluProjection GeluProjection::from(Linear proj, bool tanh_approximation) {
  GeluProjection g;
  g.proj_ = std::move(proj);
  g.tanh_ = tanh_approximation;
  return g;
}

// The bf16 path fuses the GELU into the GEMM and keeps the result in bf16 for the next GEMM
// (which rounds its input to bf16 anyway); the f32 path stays the separate exact ops.
Tensor GeluProjection::forward(const Tensor& x) const {
  if (proj_.compute_dtype() == DType::BF16)
    return proj_.forward_gelu(x, tanh_, DType::BF16);
  return ops::gelu(proj_.forward(x), tanh_);
}

FeedForward FeedForward::load(const LoadContext& ctx, const std::string& prefix, const Config& config) {
  PD_CHECK(config.activation == "gelu" || config.activation == "gelu-approximate",
           "FeedForward: unsupported activation_fn '", config.activation, "'");
  const int64_t inner = config.inner_dim ? config.inner_dim : 4 * config.dim;
  const int64_t out = config.dim_out ? config.dim_out : config.dim;
  const bool tanh = config.activation == "gelu-approximate";
  FeedForward f;
  if (is_parallel(ctx) && ctx.parallel->tp->size() > 1) {
    f.tp_ = ctx.parallel->tp.get();
    const TpSplit split = tp_split(inner, f.tp_->size(), f.tp_->rank());
    f.act_ = GeluProjection::from(load_column_parallel(ctx, join(prefix, "net.0.proj"), config.dim, inner, 1, split), tanh);
    f.out_ = load_row_parallel(ctx, join(prefix, "net.2"), inner, out, 1, split, f.tp_->rank() == 0);
    return f;
  }
  f.act_ = GeluProjection::load(ctx, join(prefix, "net.0"), config.dim, inner, tanh);
  f.out_ = Linear::load(ctx, join(prefix, "net.2"), inner, out);
  return f;
}

Tensor FeedForward::forward(const Tensor& x) const {
  // The hidden activation may be bf16 (GeluProjection); the output has the input's dtype.
  auto project_out = [&](const Tensor& hidden) {
    return out_.forward(hidden, x.dtype());
  };
  if (!tp_) return project_out(act_.forward(x));
  // Megatron sequence parallelism: gather the tp group's rows, then sum and scatter them back.
  return reduce_scatter_rows(*tp_, project_out(act_.forward(gather_rows(*tp_, x))));
}

}  // namespace paradit
