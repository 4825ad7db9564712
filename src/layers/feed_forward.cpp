#include "layers/feed_forward.h"

#include "core/error.h"
#include "ops/ops.h"

namespace paradit {

GeluProjection GeluProjection::load(const LoadContext& ctx, const std::string& prefix, int64_t dim_in,
                                    int64_t dim_out, bool tanh_approximation) {
  GeluProjection g;
  g.proj_ = Linear::load(ctx, join(prefix, "proj"), dim_in, dim_out);
  g.tanh_ = tanh_approximation;
  return g;
}

Tensor GeluProjection::forward(const Tensor& x) const { return ops::gelu(proj_.forward(x), tanh_); }

FeedForward FeedForward::load(const LoadContext& ctx, const std::string& prefix, const Config& config) {
  PD_CHECK(config.activation == "gelu" || config.activation == "gelu-approximate",
           "FeedForward: unsupported activation_fn '", config.activation, "'");
  const int64_t inner = config.inner_dim ? config.inner_dim : 4 * config.dim;
  const int64_t out = config.dim_out ? config.dim_out : config.dim;
  FeedForward f;
  f.act_ = GeluProjection::load(ctx, join(prefix, "net.0"), config.dim, inner, config.activation == "gelu-approximate");
  f.out_ = Linear::load(ctx, join(prefix, "net.2"), inner, out);
  return f;
}

Tensor FeedForward::forward(const Tensor& x) const { return out_.forward(act_.forward(x)); }

}  // namespace paradit
