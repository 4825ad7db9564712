// The SD3 denoising step as one CUDA graph on the GPU: the first step runs eagerly (the GEMM
// plans and cuDNN graphs are made), the second captures MMDiT::forward_with_temb over copies
// of its inputs kept at fixed addresses, and every later step copies the new latents and time
// embedding into them and replays. Elsewhere (the CPU, PARADIT_CUDA_GRAPHS=0, a build without
// CUDA, or a capture that fails, which is reported once) every step is eager. The returned
// prediction is overwritten by the next step: consume it first.
#pragma once

#include <memory>

#include "models/mmdit/mmdit.h"

namespace paradit {

class CapturedStep {
 public:
  explicit CapturedStep(const MMDiT& model);
  ~CapturedStep();
  Tensor run(const Tensor& latents, const Tensor& context, const Tensor& temb);
  bool replaying() const;

 private:
  struct Graph;
  const MMDiT& model_;
  std::unique_ptr<Graph> graph_;
  int steps_ = 0;
  bool eager_only_ = false;
};

}  // namespace paradit
