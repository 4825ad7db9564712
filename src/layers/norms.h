// Normalisation modules with the parameter names of torch and diffusers:
// LayerNorm (optional affine), RMSNorm (optional weight) and GroupNorm.
#pragma once

#include <optional>
#include <string>

#include "layers/module.h"

namespace paradit {

class LayerNorm {
 public:
  LayerNorm() = default;
  // With affine, loads `weight` and `bias` (bias may be absent, as in bias=False).
  static LayerNorm load(const LoadContext& ctx, const std::string& prefix, int64_t dim, float eps, bool affine);
  static LayerNorm plain(float eps);  // no parameters
  Tensor forward(const Tensor& x) const;

 private:
  std::optional<Tensor> weight_, bias_;
  float eps_ = 1e-5f;
};

class RMSNorm {
 public:
  RMSNorm() = default;
  static RMSNorm load(const LoadContext& ctx, const std::string& prefix, int64_t dim, float eps, bool affine);
  Tensor forward(const Tensor& x) const;
  const Tensor* weight() const { return weight_ ? &*weight_ : nullptr; }

 private:
  std::optional<Tensor> weight_;
  float eps_ = 1e-6f;
};

class GroupNorm {
 public:
  GroupNorm() = default;
  static GroupNorm load(const LoadContext& ctx, const std::string& prefix, int64_t groups, int64_t channels,
                        float eps);
  Tensor forward(const Tensor& x) const;

 private:
  Tensor weight_, bias_;
  int64_t groups_ = 32;
  float eps_ = 1e-6f;
};

}  // namespace paradit
