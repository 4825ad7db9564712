#include "pipelines/captured_step.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/device_memory.h"
#include "core/error.h"
#ifdef PARADIT_HAVE_CUDA
#include "backend/cuda/graph.h"
#endif

namespace paradit {

struct CapturedStep::Graph {
#ifdef PARADIT_HAVE_CUDA
  cuda::StepGraph graph;
#endif
  std::vector<Tensor> inputs;  // the captured inputs, at fixed addresses
  Tensor out;
};

#ifdef PARADIT_HAVE_CUDA
namespace {

bool graphs_enabled() {
  const char* env = std::getenv("PARADIT_CUDA_GRAPHS");
  return !(env && std::strcmp(env, "0") == 0);
}

// src's bytes into dst (same shape and dtype, both on the device), queued on its stream.
void refill(Tensor& dst, const Tensor& src) {
  PD_CHECK(dst.shape() == src.shape() && dst.dtype() == src.dtype() && src.is_contiguous(),
           "captured step: input ", src.describe(), " differs from the captured ", dst.describe());
  if (dst.raw() != src.raw()) device_memory(dst.device()).copy_within(dst.raw(), src.raw(), src.nbytes());
}

}  // namespace
#endif

CapturedStep::CapturedStep(Body body) : body_(std::move(body)) {}
CapturedStep::~CapturedStep() = default;

bool CapturedStep::replaying() const { return graph_ != nullptr; }

Tensor CapturedStep::run(const std::vector<Tensor>& inputs) {
  ++steps_;
#ifdef PARADIT_HAVE_CUDA
  const bool gpu = !inputs.empty() && inputs[0].device() == Device::CUDA;
  if (gpu && !eager_only_ && graphs_enabled() && steps_ >= 2) {
    if (!graph_) {
      auto g = std::make_unique<Graph>();
      for (const Tensor& t : inputs) g->inputs.push_back(t.to(t.dtype()));  // copies the graph keeps
      try {
        g->graph.capture([&] { g->out = body_(g->inputs); });
        graph_ = std::move(g);
      } catch (const Error& e) {
        std::fprintf(stderr, "paradit: the denoising step could not be captured as a CUDA graph (%s); it runs eagerly\n",
                     e.what());
        eager_only_ = true;
      }
    }
    if (graph_) {
      PD_CHECK(inputs.size() == graph_->inputs.size(), "captured step: ", inputs.size(), " inputs for ",
               graph_->inputs.size());
      for (size_t i = 0; i < inputs.size(); ++i) refill(graph_->inputs[i], inputs[i]);
      graph_->graph.replay();
      return graph_->out;
    }
  }
#endif
  return body_(inputs);
}

}  // namespace paradit
