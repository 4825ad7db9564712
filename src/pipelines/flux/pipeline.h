// The FLUX.1 text-to-image pipeline with diffusers' FluxPipeline semantics: CLIP-L pooled + T5
// prompt encoding, initial latents drawn as [1, 16, h, w] (torch-compatible) and packed 2x2 into
// [1, (h/2)(w/2), 64] tokens with their image ids, FLUX's flow-match schedule (dynamic shift
// from the token count for [dev]), the guidance scale into the guidance embedding ([dev]; no
// second batch), true CFG when a negative prompt and true_cfg > 1 are given (a second pass,
// combined as neg + s * (cond - neg)), unpacking, the VAE's scale and shift, decode.
#pragma once

#include <atomic>
#include <memory>

#include "models/flux/flux.h"
#include "models/vae/autoencoder_kl.h"
#include "pipelines/flux/prompt_encoder.h"
#include "pipelines/schedulers/flow_match_euler.h"
#include "pipelines/sd35/pipeline.h"

namespace paradit {

class FluxPipeline {
 public:
  // options.model: a FluxPipeline folder (transformer/, vae/, text encoders, tokenizers, scheduler/).
  static FluxPipeline load(const PipelineOptions& options, Timings* timings = nullptr);

  GenerateResult generate(const GenerateRequest& request, const ProgressFn& progress = {},
                          const std::atomic<bool>* cancel = nullptr, bool keep_step_latents = false) const;

  // dev (guidance embedding): 28 steps, guidance 3.5, 512 T5 tokens; schnell: 4 steps, 256.
  const ModelDefaults& defaults() const { return defaults_; }
  const FluxConfig& transformer_config() const { return transformer_->config(); }
  void validate(const GenerateRequest& request) const;
  GenerateRequest resolve(const GenerateRequest& request) const;

 private:
  PipelineOptions options_;
  ModelDefaults defaults_;
  std::shared_ptr<FluxPromptEncoder> text_;
  std::shared_ptr<FluxTransformer> transformer_;
  std::shared_ptr<AutoencoderKL> vae_;
  FlowMatchEulerScheduler scheduler_;
};

// FLUX.1's VAE latent factors (black-forest-labs/FLUX.1-dev vae/config.json), for ae.safetensors.
inline constexpr float kFluxVaeScaling = 0.3611f, kFluxVaeShift = 0.1159f;

// True when `model` is a FluxPipeline folder (its model_index.json says so) or a FLUX transformer.
bool is_flux_pipeline(const std::string& model);

// [B, C, h, w] -> [B, (h/2)(w/2), 4C] and back, as FluxPipeline._pack_latents / _unpack_latents.
Tensor flux_pack_latents(const Tensor& latents);
Tensor flux_unpack_latents(const Tensor& packed, int64_t h, int64_t w);

}  // namespace paradit
