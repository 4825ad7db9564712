// The building blocks of diffusers' AutoencoderKL: ResnetBlock2D (GroupNorm, SiLU, 3x3 convs,
// 1x1 shortcut when the width changes), the single-head spatial self-attention of the middle
// block, and UNetMidBlock2D (resnet, attention, resnet).
#pragma once

#include <optional>
#include <string>

#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/norms.h"

namespace paradit {

class ResnetBlock2D {
 public:
  ResnetBlock2D() = default;
  static ResnetBlock2D load(const LoadContext& ctx, const std::string& prefix, int64_t in, int64_t out, int64_t groups);
  Tensor forward(const Tensor& x) const;

 private:
  GroupNorm norm1_, norm2_;
  Conv2d conv1_, conv2_;
  std::optional<Conv2d> shortcut_;
};

class VaeAttention {
 public:
  VaeAttention() = default;
  static VaeAttention load(const LoadContext& ctx, const std::string& prefix, int64_t channels, int64_t groups);
  Tensor forward(const Tensor& x) const;  // x [B, C, H, W], with the residual added

 private:
  GroupNorm norm_;
  Linear q_, k_, v_, out_;
  int64_t channels_ = 0;
};

class VaeMidBlock {
 public:
  VaeMidBlock() = default;
  static VaeMidBlock load(const LoadContext& ctx, const std::string& prefix, int64_t channels, int64_t groups,
                          bool attention);
  Tensor forward(const Tensor& x) const;

 private:
  ResnetBlock2D resnet0_, resnet1_;
  std::optional<VaeAttention> attention_;
};

}  // namespace paradit
