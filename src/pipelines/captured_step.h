// A denoising step as one CUDA graph on the GPU, for both pipelines: the first step runs
// eagerly (the GEMM plans and cuDNN graphs are made), the second captures the body over copies
// of its inputs kept at fixed addresses, and every later step copies the new inputs into them
// and replays. The body must only queue work on the inputs' device (MMDiT::forward_with_temb,
// FluxTransformer::forward_prepared). Elsewhere (the CPU, PARADIT_CUDA_GRAPHS=0, a build
// without CUDA, or a capture that fails, which is reported once) every step is eager. The
// returned prediction is overwritten by the next step: consume it first.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace paradit {

class CapturedStep {
 public:
  using Body = std::function<Tensor(const std::vector<Tensor>& inputs)>;
  explicit CapturedStep(Body body);
  ~CapturedStep();
  Tensor run(const std::vector<Tensor>& inputs);
  bool replaying() const;

 private:
  struct Graph;
  Body body_;
  std::unique_ptr<Graph> graph_;
  int steps_ = 0;
  bool eager_only_ = false;
};

}  // namespace paradit
