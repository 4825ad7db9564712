#include "pipelines/sd35/captured_step.h"

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
  Tensor latents, context, temb, out;  // the captured inputs and output, at fixed addresses
};

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

CapturedStep::CapturedStep(const MMDiT& model) : model_(model) {}
CapturedStep::~CapturedStep() = default;

bool CapturedStep::replaying() const { return graph_ != nullptr; }

Tensor CapturedStep::run(const Tensor& latents, const Tensor& context, const Tensor& temb) {
  ++steps_;
#ifdef PARADIT_HAVE_CUDA
  if (latents.device() == Device::CUDA && !eager_only_ && graphs_enabled() && steps_ >= 2) {
    if (!graph_) {
      auto g = std::make_unique<Graph>();
      g->latents = latents.to(latents.dtype());  // copies at addresses the graph keeps
      g->context = context.to(context.dtype());
      g->temb = temb.to(temb.dtype());
      try {
        g->graph.capture([&] { g->out = model_.forward_with_temb(g->latents, g->context, g->temb); });
        graph_ = std::move(g);
      } catch (const Error& e) {
        std::fprintf(stderr, "paradit: the denoising step could not be captured as a CUDA graph (%s); it runs eagerly\n",
                     e.what());
        eager_only_ = true;
      }
    }
    if (graph_) {
      refill(graph_->latents, latents);
      refill(graph_->context, context);
      refill(graph_->temb, temb);
      graph_->graph.replay();
      return graph_->out;
    }
  }
#endif
  return model_.forward_with_temb(latents, context, temb);
}

}  // namespace paradit
