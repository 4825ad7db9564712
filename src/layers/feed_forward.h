// diffusers' GELU module (a projection followed by GELU) and FeedForward
// (net.0 = GELU projection to inner_dim, net.2 = Linear back to dim_out).
#pragma once

#include <string>

#include "layers/parallel_linear.h"

namespace paradit {

class GeluProjection {
 public:
  GeluProjection() = default;
  static GeluProjection load(const LoadContext& ctx, const std::string& prefix, int64_t dim_in, int64_t dim_out,
                             bool tanh_approximation);
  static GeluProjection from(Linear proj, bool tanh_approximation);
  Tensor forward(const Tensor& x) const;

 private:
  Linear proj_;
  bool tanh_ = false;
};

class FeedForward {
 public:
  // activation: "gelu" or "gelu-approximate", as diffusers spells activation_fn.
  struct Config {
    int64_t dim = 0;
    int64_t dim_out = 0;    // 0: same as dim
    int64_t inner_dim = 0;  // 0: 4 * dim
    std::string activation = "gelu-approximate";
  };
  FeedForward() = default;
  static FeedForward load(const LoadContext& ctx, const std::string& prefix, const Config& config);
  Tensor forward(const Tensor& x) const;

 private:
  // Under tp, net.0 is column-parallel over the inner features and net.2 row-parallel; the
  // input is this rank's rows of the tp group's tokens (gathered first, scattered after).
  GeluProjection act_;
  Linear out_;
  Communicator* tp_ = nullptr;
};

}  // namespace paradit
