// torch.nn.Linear: y = x W^T + b, with W stored [out, in] as in every checkpoint.
#pragma once

#include <optional>
#include <string>

#include "layers/module.h"

namespace paradit {

class Linear {
 public:
  Linear() = default;
  static Linear load(const LoadContext& ctx, const std::string& prefix, int64_t in_features, int64_t out_features,
                     bool bias = true);
  Tensor forward(const Tensor& x) const;
  int64_t in_features() const { return weight_.size(1); }
  int64_t out_features() const { return weight_.size(0); }

 private:
  Tensor weight_;
  std::optional<Tensor> bias_;
};

}  // namespace paradit
