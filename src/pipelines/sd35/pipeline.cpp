#include "pipelines/sd35/pipeline.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <optional>

#include "core/error.h"
#include "core/host_allocator.h"
#include "io/json_file.h"
#include "core/timer.h"
#include "core/torch_rng.h"
#include "models/mmdit/weights.h"
#include "ops/ops.h"
#include "pipelines/captured_step.h"
#include "pipelines/sd35/request_broadcast.h"

namespace paradit {
namespace fs = std::filesystem;

ModelDefaults model_defaults(const MMDiTConfig& c, const std::string& path) {
  std::string lower = path;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  const bool large = c.num_layers == 38 && c.inner_dim() == 2432;
  if (large && lower.find("turbo") != std::string::npos) return {"sd3.5-large-turbo", 4, 0.0};
  if (large) return {"sd3.5-large", 28, 3.5};
  if (c.num_layers == 24 && !c.dual_attention_layers.empty()) return {"sd3.5-medium", 40, 4.5};
  if (c.num_layers == 24 && c.qk_norm.empty()) return {"sd3-medium", 28, 7.0};
  return {"custom", 28, 7.0};
}

void apply_folder_defaults(const std::string& model_index_json, ModelDefaults& d) {
  const auto index = read_json_file(model_index_json);
  if (!index.contains("_paradit_defaults")) return;
  const auto& j = index["_paradit_defaults"];
  PD_CHECK(j.is_object(), model_index_json, ": '_paradit_defaults' must be an object");
  auto number = [&](const char* key, double lo, double hi) -> std::optional<double> {
    if (!j.contains(key)) return std::nullopt;
    PD_CHECK(j[key].is_number(), model_index_json, ": _paradit_defaults.", key, " must be a number");
    const double v = j[key].get<double>();
    PD_CHECK(std::isfinite(v) && v >= lo && v <= hi, model_index_json, ": _paradit_defaults.", key, " must be in ",
             lo, "..", hi);
    return v;
  };
  if (auto v = number("num_inference_steps", 1, 1000)) d.steps = static_cast<int>(*v);
  if (auto v = number("guidance_scale", 0, 100)) d.guidance = *v;
  if (auto v = number("max_sequence_length", 1, 512)) d.max_sequence_length = static_cast<int>(*v);
}

Sd35Pipeline Sd35Pipeline::load(const PipelineOptions& o, Timings* timings) {
  PD_CHECK(o.transformer.empty(), "--transformer: only FLUX pipelines take a separate transformer file; for SD3 "
           "pass the single file as --model");
  PD_CHECK(o.device == Device::CPU || !o.vae_tiling, "--vae-tiling runs on the CPU only; on the GPU the VAE decodes "
           "the whole image");
  Sd35Pipeline p;
  p.options_ = o;
  std::error_code ec;
  const bool folder = fs::is_directory(fs::path(o.model) / "transformer", ec);
  {
    const MMDiTWeights w = open_mmdit_weights(o.model);
    p.transformer_weights_ = w.source;
    p.transformer_config_ = w.config;
    p.defaults_ = model_defaults(w.config, o.model);
    if (!o.release_after_use) p.transformer(timings);
  }
  {
    Timings::Scope t(timings, "load_text_encoders");
    TextEncoderFiles files;
    if (folder) files = TextEncoderFiles::from_pipeline(o.model, !o.no_t5);
    if (!o.clip_l.empty()) files.clip_l = o.clip_l;
    if (!o.clip_g.empty()) files.clip_g = o.clip_g;
    if (!o.t5.empty() && !o.no_t5) files.t5 = o.t5;
    PD_CHECK(!files.clip_l.empty() && !files.clip_g.empty(), o.model,
             ": no text encoders; pass a diffusers pipeline folder, or --clip-l and --clip-g files");
    PD_CHECK(files.t5.empty() || !files.tokenizer_t5.empty(),
             "T5 needs its tokenizer: use a pipeline folder with tokenizer_3/, or --no-t5");
    p.text_files_ = files;
    p.text_ = std::make_shared<Sd3PromptEncoder>(
        Sd3PromptEncoder::load(files, o.dtype, p.transformer_config_.joint_attention_dim, o.parallel, o.device));
  }
  {
    Timings::Scope t(timings, "load_vae");
    std::string vae_dir = o.vae;
    if (vae_dir.empty() && folder) vae_dir = (fs::path(o.model) / "vae").string();
    if (vae_dir.empty()) {  // a single file: its own first_stage_model.*, as SAI ships them
      auto vae = AutoencoderKL::load_from_single_file(o.model, std::nullopt, o.device);
      PD_CHECK(vae.has_value(), o.model, ": holds no VAE (first_stage_model.*); pass --vae DIR");
      p.vae_ = std::make_shared<AutoencoderKL>(std::move(*vae));
    } else {
      p.vae_ = std::make_shared<AutoencoderKL>(AutoencoderKL::load_folder(vae_dir, o.device));
    }
  }
  const int64_t native = p.transformer_config_.sample_size * p.vae_->config().downscale();
  p.defaults_.width = p.defaults_.height = static_cast<int>(
      std::min(native, p.transformer_config_.pos_embed_max_size * p.transformer_config_.patch_size *
                           p.vae_->config().downscale()));
  const fs::path model_index = fs::path(o.model) / "model_index.json";
  if (folder && fs::exists(model_index, ec)) apply_folder_defaults(model_index.string(), p.defaults_);
  const fs::path scheduler_json = fs::path(o.model) / "scheduler" / "scheduler_config.json";
  p.scheduler_ = fs::exists(scheduler_json, ec) ? FlowMatchEulerScheduler::from_json_file(scheduler_json.string())
                                                : FlowMatchEulerScheduler(1000, 3.0);
  return p;
}

const MMDiT& Sd35Pipeline::transformer(Timings* timings) const {
  if (!transformer_) {
    Timings::Scope t(timings, "load_transformer");
    LoadContext ctx{transformer_weights_.get(), options_.dtype, std::nullopt};
    ctx.parallel = options_.parallel;
    ctx.device = options_.device;
    transformer_ = std::make_shared<MMDiT>(MMDiT::load(ctx, transformer_config_));
  }
  return *transformer_;
}

GenerateRequest with_defaults(const GenerateRequest& request, const ModelDefaults& defaults) {
  GenerateRequest r = request;
  if (r.width == 0) r.width = defaults.width;
  if (r.height == 0) r.height = defaults.height;
  if (r.steps == 0) r.steps = defaults.steps;
  if (r.guidance < 0) r.guidance = defaults.guidance;
  if (r.max_sequence_length == 0) r.max_sequence_length = defaults.max_sequence_length;
  return r;
}

GenerateRequest Sd35Pipeline::resolve(const GenerateRequest& request) const {
  return with_defaults(request, defaults_);
}

void Sd35Pipeline::validate(const GenerateRequest& request) const {
  const GenerateRequest r = resolve(request);
  const auto& c = transformer_config_;
  const int64_t multiple = vae_->config().downscale() * c.patch_size;
  const int64_t largest = c.pos_embed_max_size * multiple;
  PD_CHECK(r.width >= multiple && r.width % multiple == 0, "width: ", r.width, " must be a positive multiple of ",
           multiple);
  PD_CHECK(r.height >= multiple && r.height % multiple == 0, "height: ", r.height, " must be a positive multiple of ",
           multiple);
  PD_CHECK(r.width <= largest && r.height <= largest, "width/height: ", r.width, "x", r.height,
           " exceeds this model's largest size of ", largest, "x", largest);
  PD_CHECK(r.steps >= 1 && r.steps <= 1000, "steps: ", r.steps, " must be in 1..1000");
  PD_CHECK(r.guidance < 0 || (std::isfinite(r.guidance) && r.guidance <= 100), "guidance: ", r.guidance,
           " must be in 0..100");
  PD_CHECK(r.shift >= 0 && std::isfinite(r.shift), "shift: must be positive");
  PD_CHECK(r.max_sequence_length >= 1 && r.max_sequence_length <= 512, "max_sequence_length: ", r.max_sequence_length,
           " must be in 1..512");
  if (options_.parallel && options_.parallel->config.cfg.factor > 1) {
    const double guidance = r.guidance >= 0 ? r.guidance : defaults_.guidance;
    PD_CHECK(guidance > 1.0, "guidance: ", guidance, " turns classifier-free guidance off, but the parallel config ",
             options_.parallel->config.str(), " gives CFG its own submesh (use cfg factor 1)");
  }
}

GenerateResult Sd35Pipeline::generate(const GenerateRequest& request, const ProgressFn& progress,
                                      const std::atomic<bool>* cancel, bool keep_step_latents) const {
  validate(request);
  const GenerateRequest r = resolve(request);
  // Between requests (an idle server) no activation memory stays cached (core/host_allocator.h).
  struct ReleaseCachedMemory {
    ~ReleaseCachedMemory() { host_release_cached(); }
  } release_cached_memory;
  GenerateResult out;
  Timings& timings = out.timings;
  Timer total_timer;
  const int steps = r.steps;
  const double guidance = r.guidance;
  const bool cfg = guidance > 1.0;
  out.steps = steps;
  out.guidance = guidance;

  // Prompt encoding: [uncond; cond] when guiding, as diffusers concatenates them.
  PromptEmbeds cond, uncond;
  {
    PromptRequest pr;
    pr.prompt = {r.prompt};
    if (!r.prompt_2.empty()) pr.prompt_2 = {r.prompt_2};
    if (!r.prompt_3.empty()) pr.prompt_3 = {r.prompt_3};
    pr.clip_skip = r.clip_skip;
    pr.max_sequence_length = r.max_sequence_length;
    if (!text_) {  // released after the previous request
      Timings::Scope t(&timings, "load_text_encoders");
      text_ = std::make_shared<Sd3PromptEncoder>(Sd3PromptEncoder::load(
          text_files_, options_.dtype, transformer_config_.joint_attention_dim, options_.parallel, options_.device));
    }
    cond = text_->encode(pr, &timings);
    if (cfg) {
      PromptRequest neg;
      neg.prompt = {r.negative_prompt};
      neg.max_sequence_length = r.max_sequence_length;
      uncond = text_->encode(neg, &timings);
    }
    // One-shot runs free the encoders (T5-XXL alone is 9.5 GB) before the transformer loads,
    // so the two never share the memory: their blocks go back to the system, not to the host
    // allocator's cache (which would hold them beside the transformer's mapped pages).
    if (options_.release_after_use) {
      text_.reset();
      host_release_cached();
    }
  }
  const MMDiT& transformer = this->transformer(&timings);
  const Device device = options_.device;
  const Tensor context =
      (cfg ? ops::concat({uncond.prompt_embeds, cond.prompt_embeds}, 0) : cond.prompt_embeds).to(device);
  const Tensor pooled = (cfg ? ops::concat({uncond.pooled, cond.pooled}, 0) : cond.pooled).to(device);

  const int64_t f = vae_->config().downscale();
  const Shape latent_shape = {1, transformer.config().in_channels, r.height / f, r.width / f};
  Tensor latents;
  if (r.init_latents) {
    PD_CHECK(r.init_latents->shape() == latent_shape, "init_latents: ", r.init_latents->describe(), " must be ",
             shape_str(latent_shape), " for ", r.width, "x", r.height);
    latents = r.init_latents->to(DType::F32);
  } else {
    latents = Tensor::empty(latent_shape);
    TorchGenerator(r.seed).randn(latents.data<float>(), latents.numel());
  }
  latents = latents.to(device);

  const FlowMatchEulerScheduler scheduler =
      r.shift > 0 ? FlowMatchEulerScheduler(1000, r.shift) : scheduler_;
  const FlowMatchSchedule schedule = scheduler.schedule(steps);
  const bool one_rank = !options_.parallel || options_.parallel->trivial();
  // One rank on a GPU: every adaLN projection of every step, made before the loop (one GEMM per
  // layer over steps x batch rows instead of re-reading its weights every step for a few
  // rows). Not on the CPU: there those reads are about 0.5% of a step, and the table (250 MB
  // for SD3.5 Large at 1024x1024, 28 steps) would raise the image's peak memory.
  const bool precompute = one_rank && device == Device::CUDA;
  ModulationTable modulation;
  if (precompute) {
    Timings::Scope t(&timings, "modulation");
    std::vector<std::vector<float>> all(static_cast<size_t>(steps));
    for (int i = 0; i < steps; ++i) all[static_cast<size_t>(i)].assign(cfg ? 2 : 1, schedule.timesteps[static_cast<size_t>(i)]);
    modulation = transformer.modulation_table(all, pooled);
  }
  const Conditioning conditioning(Tensor(), &modulation);
  // One rank on a GPU: the step replays as one CUDA graph (it reads the selected step's
  // projections from the table's fixed buffer).
  std::unique_ptr<CapturedStep> captured;
  if (device == Device::CUDA && one_rank)
    captured = std::make_unique<CapturedStep>([&transformer, &conditioning](const std::vector<Tensor>& in) {
      return transformer.forward_with_temb(in[0], in[1], conditioning);
    });
  // On the host every step's tensors come from one workspace, planned by the first step
  // (core/step_arena.h); the GPU's replayed graph has its own pool.
  std::unique_ptr<StepArena> arena;
  if (device == Device::CPU) arena = std::make_unique<StepArena>();
  Timer loop_timer;
  for (int i = 0; i < steps; ++i) {
    bool cancelled = cancel && cancel->load();
    // Only rank 0 hears a cancel; every rank must stop at the same step.
    if (options_.parallel && !options_.parallel->trivial()) cancelled = agree_with_root(*options_.parallel->world, cancelled);
    if (cancelled) throw CancelledError();
    Timings::Scope t(&timings, "denoising_step_" + std::to_string(i));
    {
      const StepArena::Step workspace(arena.get());
      const float timestep = schedule.timesteps[static_cast<size_t>(i)];
      const Tensor input = cfg ? ops::concat({latents, latents}, 0) : latents;
      const std::vector<float> timesteps(cfg ? 2 : 1, timestep);
      if (precompute) modulation.select(i);
      const Tensor velocity = captured     ? captured->run({input, context})
                              : precompute ? transformer.forward_with_temb(input, context, conditioning)
                                           : transformer.forward(input, context, pooled, timesteps);
      Tensor guided;
      if (cfg) {
        // noise = uncond + g * (cond - uncond), in float32 as torch evaluates it
        guided = ops::guidance_combine(velocity.rows(0, 1), velocity.rows(1, 2), static_cast<float>(guidance));
      } else {
        guided = velocity;
      }
      FlowMatchEulerScheduler::step(latents, guided, schedule.sigmas[static_cast<size_t>(i)],
                                    schedule.sigmas[static_cast<size_t>(i) + 1]);
    }
    if (keep_step_latents) out.step_latents.push_back(latents.to(Device::CPU).clone());
    if (progress) progress({i + 1, steps, loop_timer.seconds()});
  }
  if (arena) out.workspace = arena->stats();
  arena.reset();
  latents = latents.to(Device::CPU);
  out.latents = latents;
  // The transformer's weights (16 GB for SD3.5 Large, packed or mapped) leave this process's
  // memory before the VAE's activations (4 GB at 1024x1024) arrive.
  if (options_.release_after_use) {
    captured.reset();
    transformer_.reset();
    transformer_weights_->release_pages();
  }

  out.image.width = r.width;
  out.image.height = r.height;
  const bool parallel = options_.parallel && !options_.parallel->trivial();
  if (parallel && options_.vae_tiling) {
    // The tiles are spread over every rank and shared; rank 0 makes the image.
    Timings::Scope t(&timings, "vae_decode");
    const Tensor decoded = vae_->decode_tiled(unscale_latents(latents, vae_->config()), options_.parallel->world.get());
    if (options_.parallel->is_root()) out.image.pixels = to_rgb8(decoded)[0];
    timings.add("total", 0, total_timer.seconds());
    return out;
  }
  if (parallel && !options_.parallel->is_root()) {  // without tiling rank 0 decodes alone
    timings.add("total", 0, total_timer.seconds());
    return out;
  }
  Tensor decoded;
  {
    Timings::Scope t(&timings, "vae_decode");
    const Tensor z = unscale_latents(latents, vae_->config()).to(device);
    decoded = (options_.vae_tiling ? vae_->decode_tiled(z) : vae_->decode(z)).to(Device::CPU);
  }
  out.image.pixels = to_rgb8(decoded)[0];
  timings.add("total", 0, total_timer.seconds());
  return out;
}

}  // namespace paradit
