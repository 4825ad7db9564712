// The SD3 / SD3.5 text-to-image pipeline with diffusers' StableDiffusion3Pipeline semantics:
// encode the prompt and the negative prompt, draw the initial latents (torch-compatible), run
// the flow-matching Euler loop with classifier-free guidance on the batch [uncond; cond]
// (no uncond pass when guidance <= 1), unscale, VAE-decode and round to 8-bit RGB.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/step_arena.h"
#include "core/timings.h"
#include "io/png.h"
#include "models/mmdit/mmdit.h"
#include "models/vae/autoencoder_kl.h"
#include "pipelines/schedulers/flow_match_euler.h"
#include "pipelines/sd35/prompt_encoder.h"

namespace paradit {

struct PipelineOptions {
  std::string model;               // a diffusers pipeline folder, or the transformer file/folder
  std::string transformer;         // FLUX: a transformer file in place of the folder's transformer/
  std::string clip_l, clip_g, t5;  // single-file text encoders (override the folder's)
  std::string vae;                 // a VAE folder (overrides the pipeline's vae/)
  bool no_t5 = false;
  DType dtype = DType::F32;        // GEMM dtype: f32 reference or bf16
  // Where the models run: every weight is uploaded there at load; the prompt embeddings, the
  // latents and the decoded image stay there until the image comes back for the PNG (and the
  // step latents a caller keeps come back each step).
  Device device = Device::CPU;
  bool vae_tiling = false;
  // Free each stage's weights once it is done: the text encoders after encoding (loaded again
  // for the next request) and the transformer's mapped pages after denoising (they fault back
  // in from the page cache). The peak memory is then the largest stage, not the sum.
  bool release_after_use = false;
  // A multi-rank run: the transformer splits over these groups; every rank runs the loop, and
  // only rank 0 decodes the image (the others return an empty one).
  ParallelGroups* parallel = nullptr;
};

struct GenerateRequest {
  std::string prompt;
  std::string negative_prompt;
  std::string prompt_2, prompt_3;  // "" = prompt
  int width = 0, height = 0;       // 0 = the model's native size
  int steps = 0;                   // 0 = the model's default
  double guidance = -1;            // < 0 = the model's default
  double shift = 0;                // 0 = the scheduler's
  double true_cfg = 1.0;           // FLUX: true CFG scale with the negative prompt (> 1 turns it on)
  uint64_t seed = 0;
  int max_sequence_length = 0;     // 0 = the model's default (256 unless the folder says)
  int clip_skip = 0;
  std::optional<Tensor> init_latents;  // [1, 16, h/8, w/8] instead of drawing them
};

struct StepInfo {
  int step = 0;        // 1-based
  int total = 0;
  double elapsed_s = 0;
};
using ProgressFn = std::function<void(const StepInfo&)>;

struct GenerateResult {
  RgbImage image;
  Tensor latents;                    // the final latents, before unscaling
  std::vector<Tensor> step_latents;  // after each step, when asked for
  Timings timings;
  ArenaStats workspace;  // the denoising steps' workspace (host runs; core/step_arena.h)
  int steps = 0;
  double guidance = 0;
};

struct ModelDefaults {
  std::string name;  // "sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3-medium", "custom"
  int steps = 28;
  double guidance = 7.0;
  int width = 1024, height = 1024;  // the transformer's sample_size x the VAE's factor
  int max_sequence_length = 256;    // T5 tokens
};

class Sd35Pipeline {
 public:
  static Sd35Pipeline load(const PipelineOptions& options, Timings* timings = nullptr);

  // Throws paradit::Error on a bad request; returns early with an error when `cancel` is set
  // between steps.
  GenerateResult generate(const GenerateRequest& request, const ProgressFn& progress = {},
                          const std::atomic<bool>* cancel = nullptr, bool keep_step_latents = false) const;

  const ModelDefaults& defaults() const { return defaults_; }
  const MMDiTConfig& transformer_config() const { return transformer_config_; }
  const VaeConfig& vae_config() const { return vae_->config(); }
  // Checks a request without running it (sizes, steps, guidance), with the field in the message.
  void validate(const GenerateRequest& request) const;
  // The request with every "the model's default" field filled in.
  GenerateRequest resolve(const GenerateRequest& request) const;

 private:
  PipelineOptions options_;
  ModelDefaults defaults_;
  TextEncoderFiles text_files_;
  mutable std::shared_ptr<Sd3PromptEncoder> text_;  // null between requests when released
  // With release_after_use, built after the prompt is encoded and dropped after denoising: its
  // weights (16 GB for SD3.5 Large; packed into the process's own memory where bf16 products
  // run as pairs, mapped otherwise) must not be resident beside T5-XXL's 9.5 GB.
  mutable std::shared_ptr<MMDiT> transformer_;
  MMDiTConfig transformer_config_;
  std::shared_ptr<const WeightSource> transformer_weights_;
  const MMDiT& transformer(Timings* timings) const;
  std::shared_ptr<AutoencoderKL> vae_;
  FlowMatchEulerScheduler scheduler_;
};

class CancelledError : public Error {
 public:
  CancelledError() : Error("generation cancelled") {}
};

// Defaults by model: Large 28 steps / 3.5, Large Turbo 4 / 0 (named "turbo"), Medium 40 / 4.5,
// SD3 Medium 28 / 7.0 (diffusers' pipeline default), anything else 28 / 7.0.
ModelDefaults model_defaults(const MMDiTConfig& config, const std::string& path);
// A pipeline folder may state its own defaults in model_index.json (diffusers passes over keys
// that start with "_"): "_paradit_defaults": {"num_inference_steps", "guidance_scale",
// "max_sequence_length"}, each optional.
void apply_folder_defaults(const std::string& model_index_json, ModelDefaults& defaults);
// The request with every "the model's default" field (0, or < 0 for guidance) filled in.
GenerateRequest with_defaults(const GenerateRequest& request, const ModelDefaults& defaults);

}  // namespace paradit
