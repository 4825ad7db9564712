#include "layers/conv2d.h"

namespace paradit {

Conv2d Conv2d::load(const LoadContext& ctx, const std::string& prefix, int64_t in, int64_t out, int64_t kernel,
                    const ops::Conv2dParams& params) {
  Conv2d c;
  c.weight_ = load_tensor(ctx, join(prefix, "weight"), {out, in, kernel, kernel});
  c.bias_ = load_tensor(ctx, join(prefix, "bias"), {out});
  c.params_ = params;
  return c;
}

}  // namespace paradit
