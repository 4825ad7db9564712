// torch.nn.Conv2d with square kernels: weight [out, in, k, k] and bias [out].
#pragma once

#include <string>

#include "layers/module.h"
#include "ops/ops.h"

namespace paradit {

class Conv2d {
 public:
  Conv2d() = default;
  static Conv2d load(const LoadContext& ctx, const std::string& prefix, int64_t in, int64_t out, int64_t kernel,
                     const ops::Conv2dParams& params);
  Tensor forward(const Tensor& x) const { return ops::conv2d(x, weight_, &bias_, params_); }

 private:
  Tensor weight_, bias_;
  ops::Conv2dParams params_;
};

}  // namespace paradit
