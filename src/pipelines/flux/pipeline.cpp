#include "pipelines/flux/pipeline.h"

#include "pipelines/captured_step.h"

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/host_allocator.h"
#include "core/timer.h"
#include "core/torch_rng.h"
#include "io/json_file.h"
#include "models/flux/rope.h"
#include "models/flux/weights.h"
#include "ops/ops.h"
#include "pipelines/sd35/request_broadcast.h"

namespace paradit {
namespace fs = std::filesystem;

bool is_flux_pipeline(const std::string& model) {
  std::error_code ec;
  const fs::path index = fs::path(model) / "model_index.json";
  if (fs::exists(index, ec)) {
    try {
      const auto j = read_json_file(index.string());
      if (j.contains("_class_name") && j["_class_name"].is_string())
        return j["_class_name"].get<std::string>().rfind("Flux", 0) == 0;
    } catch (const Error&) {
    }
  }
  return is_flux_transformer(model);
}

Tensor flux_pack_latents(const Tensor& x) {
  PD_CHECK(x.dim() == 4 && x.size(2) % 2 == 0 && x.size(3) % 2 == 0, "FLUX latents ", x.describe(),
           " must be [B, C, h, w] with even h and w");
  const int64_t B = x.size(0), C = x.size(1), h = x.size(2), w = x.size(3);
  return ops::permute(x.reshape({B, C, h / 2, 2, w / 2, 2}), {0, 2, 4, 1, 3, 5}).reshape({B, (h / 2) * (w / 2), C * 4});
}

Tensor flux_unpack_latents(const Tensor& p, int64_t h, int64_t w) {
  PD_CHECK(p.dim() == 3 && p.size(1) == (h / 2) * (w / 2) && p.size(2) % 4 == 0, "FLUX packed latents ",
           p.describe(), " do not match a ", h, "x", w, " latent");
  const int64_t B = p.size(0), C = p.size(2) / 4;
  return ops::permute(p.reshape({B, h / 2, w / 2, C, 2, 2}), {0, 3, 1, 4, 2, 5}).reshape({B, C, h, w});
}

FluxPipeline FluxPipeline::load(const PipelineOptions& o, Timings* timings) {
  PD_CHECK(o.device == Device::CPU || !o.vae_tiling, "--vae-tiling runs on the CPU only; on the GPU the VAE decodes "
           "the whole image");
  FluxPipeline p;
  p.options_ = o;
  std::error_code ec;
  PD_CHECK(fs::is_directory(o.model, ec), o.model,
           ": FLUX runs from a FluxPipeline folder (its tokenizers, text encoders, VAE, scheduler); a transformer "
           "file goes in --transformer");
  {
    Timings::Scope t(timings, "load_transformer");
    // --transformer FILE: BFL's layout (or diffusers'), its config from the folder's
    // transformer/config.json when there is one, else from its shapes.
    const fs::path folder_config = fs::path(o.model) / "transformer" / "config.json";
    const FluxWeights w = o.transformer.empty()
                              ? open_flux_weights(o.model)
                              : open_flux_weights(o.transformer, fs::exists(folder_config, ec) ? folder_config.string()
                                                                                              : std::string());
    LoadContext ctx{w.source.get(), o.dtype, std::nullopt};
    ctx.parallel = o.parallel;
    ctx.device = o.device;
    p.transformer_ = std::make_shared<FluxTransformer>(FluxTransformer::load(ctx, w.config));
  }
  const FluxConfig& c = p.transformer_->config();
  {
    Timings::Scope t(timings, "load_text_encoders");
    FluxTextFiles files = FluxTextFiles::from_pipeline(o.model);
    if (!o.clip_l.empty()) files.clip_l = o.clip_l;
    if (!o.t5.empty()) files.t5 = o.t5;
    PD_CHECK(!o.no_t5, "FLUX cannot run without T5 (--no-t5 is for SD3)");
    p.text_ = std::make_shared<FluxPromptEncoder>(
        FluxPromptEncoder::load(files, o.dtype, c.joint_attention_dim, c.pooled_projection_dim, o.device));
  }
  {
    Timings::Scope t(timings, "load_vae");
    if (!o.vae.empty() && fs::is_regular_file(o.vae, ec)) {
      // BFL's ae.safetensors: the original layout without a config; FLUX.1's latent factors.
      auto vae = AutoencoderKL::load_from_single_file(o.vae, std::make_pair(kFluxVaeScaling, kFluxVaeShift), o.device);
      PD_CHECK(vae.has_value(), o.vae, ": not a VAE in the original layout (no decoder.conv_in.weight)");
      p.vae_ = std::make_shared<AutoencoderKL>(std::move(*vae));
    } else {
      p.vae_ = std::make_shared<AutoencoderKL>(
          AutoencoderKL::load_folder(o.vae.empty() ? (fs::path(o.model) / "vae").string() : o.vae, o.device));
    }
    PD_CHECK(p.vae_->config().latent_channels * 4 == c.in_channels, "FLUX: the VAE's ",
             p.vae_->config().latent_channels, " latent channels do not pack into the transformer's ", c.in_channels);
  }
  p.defaults_ = c.guidance_embeds ? ModelDefaults{"flux.1-dev", 28, 3.5, 1024, 1024, 512}
                                  : ModelDefaults{"flux.1-schnell", 4, 0.0, 1024, 1024, 256};
  const fs::path model_index = fs::path(o.model) / "model_index.json";
  if (fs::exists(model_index, ec)) apply_folder_defaults(model_index.string(), p.defaults_);
  const fs::path scheduler_json = fs::path(o.model) / "scheduler" / "scheduler_config.json";
  p.scheduler_ = fs::exists(scheduler_json, ec) ? FlowMatchEulerScheduler::from_json_file(scheduler_json.string())
                                                : FlowMatchEulerScheduler(1000, 1.0);
  return p;
}

GenerateRequest FluxPipeline::resolve(const GenerateRequest& request) const {
  return with_defaults(request, defaults_);
}

void FluxPipeline::validate(const GenerateRequest& request) const {
  const GenerateRequest r = resolve(request);
  const int64_t multiple = 2 * vae_->config().downscale();
  PD_CHECK(r.width >= multiple && r.width % multiple == 0, "width: ", r.width, " must be a positive multiple of ",
           multiple);
  PD_CHECK(r.height >= multiple && r.height % multiple == 0, "height: ", r.height, " must be a positive multiple of ",
           multiple);
  PD_CHECK(r.width <= 4096 && r.height <= 4096, "width/height: at most 4096");
  PD_CHECK(r.steps >= 1 && r.steps <= 1000, "steps: ", r.steps, " must be in 1..1000");
  PD_CHECK(std::isfinite(r.guidance) && r.guidance >= 0 && r.guidance <= 100, "guidance: ", r.guidance,
           " must be in 0..100");
  PD_CHECK(std::isfinite(r.true_cfg) && r.true_cfg >= 0 && r.true_cfg <= 100, "true_cfg: ", r.true_cfg,
           " must be in 0..100");
  PD_CHECK(r.shift >= 0 && std::isfinite(r.shift), "shift: must be positive");
  PD_CHECK(r.max_sequence_length >= 1 && r.max_sequence_length <= 512, "max_sequence_length: ",
           r.max_sequence_length, " must be in 1..512");
  if (options_.parallel && options_.parallel->config.cfg.factor > 1)
    PD_CHECK(r.true_cfg > 1.0 && !r.negative_prompt.empty(), "true_cfg: the parallel config ",
             options_.parallel->config.str(), " gives true CFG its own submesh: give --true-cfg above 1 and a "
             "negative prompt, or use cfg factor 1");
}

GenerateResult FluxPipeline::generate(const GenerateRequest& request, const ProgressFn& progress,
                                      const std::atomic<bool>* cancel, bool keep_step_latents) const {
  validate(request);
  const GenerateRequest r = resolve(request);
  struct ReleaseCachedMemory {
    ~ReleaseCachedMemory() { host_release_cached(); }
  } release_cached_memory;
  GenerateResult out;
  Timings& timings = out.timings;
  Timer total_timer;
  out.steps = r.steps;
  out.guidance = r.guidance;
  const FluxConfig& c = transformer_->config();
  const bool true_cfg = r.true_cfg > 1.0 && !r.negative_prompt.empty();

  const FluxPromptEmbeds cond =
      text_->encode({r.prompt}, r.prompt_2.empty() ? std::vector<std::string>{} : std::vector<std::string>{r.prompt_2},
                    r.max_sequence_length, &timings);
  FluxPromptEmbeds neg;
  if (true_cfg) neg = text_->encode({r.negative_prompt}, {}, r.max_sequence_length, &timings);
  const Tensor txt_ids = Tensor::zeros({r.max_sequence_length, 3});

  // FluxPipeline.prepare_latents: [1, in_channels / 4, h, w] from the generator, packed 2x2.
  const int64_t f = vae_->config().downscale();
  const int64_t h = 2 * (r.height / (f * 2)), w = 2 * (r.width / (f * 2));
  const Shape latent_shape = {1, c.in_channels / 4, h, w};
  Tensor raw;
  if (r.init_latents) {
    PD_CHECK(r.init_latents->shape() == latent_shape, "init_latents: ", r.init_latents->describe(), " must be ",
             shape_str(latent_shape), " for ", r.width, "x", r.height);
    raw = r.init_latents->to(DType::F32);
  } else {
    raw = Tensor::empty(latent_shape);
    TorchGenerator(r.seed).randn(raw.data<float>(), raw.numel());
  }
  const Device device = options_.device;
  Tensor latents = flux_pack_latents(raw).to(device);
  const Tensor img_ids = flux_image_ids(h / 2, w / 2);

  const FlowMatchEulerScheduler scheduler = r.shift > 0 ? FlowMatchEulerScheduler(1000, r.shift) : scheduler_;
  const FlowMatchSchedule schedule = scheduler.flux_schedule(r.steps, latents.size(1));
  // True CFG runs [negative; prompt] as one batch of two, which the cfg axis splits.
  const int64_t batch = true_cfg ? 2 : 1;
  const Tensor context =
      (true_cfg ? ops::concat({neg.prompt_embeds, cond.prompt_embeds}, 0) : cond.prompt_embeds).to(device);
  const Tensor pooled = (true_cfg ? ops::concat({neg.pooled, cond.pooled}, 0) : cond.pooled).to(device);
  const std::vector<float> guidance(static_cast<size_t>(batch), static_cast<float>(r.guidance));
  const std::vector<float>* g = c.guidance_embeds ? &guidance : nullptr;
  const bool parallel = options_.parallel && !options_.parallel->trivial();
  // One rank on a GPU: the rotary tables once, and every adaLN projection of every step before
  // the loop (one GEMM per layer over steps x batch rows instead of a few rows per step); not on
  // the CPU, where it saves little and would raise the peak memory (as in the SD3 pipeline).
  const bool precompute = !parallel && device == Device::CUDA;
  ModulationTable modulation;
  FluxTransformer::Prepared prepared;
  if (precompute) {
    Timings::Scope t(&timings, "modulation");
    std::vector<std::vector<float>> all_t(static_cast<size_t>(r.steps)), all_g;
    for (int i = 0; i < r.steps; ++i)
      all_t[static_cast<size_t>(i)].assign(static_cast<size_t>(batch), schedule.timesteps[static_cast<size_t>(i)] / 1000.f);
    if (g) all_g.assign(static_cast<size_t>(r.steps), guidance);
    modulation = transformer_->modulation_table(all_t, pooled, g ? &all_g : nullptr);
    prepared = transformer_->prepare(pooled, all_t[0], img_ids, txt_ids, g);
    prepared.temb = Tensor();
    prepared.table = &modulation;
  }
  // One rank on a GPU: the step replays as one CUDA graph (it reads the selected step's
  // projections from the table's fixed buffer).
  std::unique_ptr<CapturedStep> captured;
  if (device == Device::CUDA && !parallel)
    captured = std::make_unique<CapturedStep>([this, &prepared](const std::vector<Tensor>& in) {
      return transformer_->forward_prepared(in[0], in[1], prepared);
    });
  // On the host every step's tensors come from one workspace, planned by the first step
  // (core/step_arena.h); the GPU's replayed graph has its own pool.
  std::unique_ptr<StepArena> arena;
  if (device == Device::CPU) arena = std::make_unique<StepArena>();
  Timer loop_timer;
  for (int i = 0; i < r.steps; ++i) {
    bool cancelled = cancel && cancel->load();
    // Only rank 0 hears a cancel; every rank must stop at the same step.
    if (parallel) cancelled = agree_with_root(*options_.parallel->world, cancelled);
    if (cancelled) throw CancelledError();
    Timings::Scope t(&timings, "denoising_step_" + std::to_string(i));
    {
      const StepArena::Step workspace(arena.get());
      // The pipeline hands the transformer t / 1000 (float32); the model scales it back.
      const std::vector<float> timestep(static_cast<size_t>(batch), schedule.timesteps[static_cast<size_t>(i)] / 1000.f);
      const Tensor input = true_cfg ? ops::concat({latents, latents}, 0) : latents;
      Tensor noise;
      if (precompute) modulation.select(i);
      if (captured) noise = captured->run({input, context});
      else if (precompute) noise = transformer_->forward_prepared(input, context, prepared);
      else noise = transformer_->forward(input, context, pooled, timestep, img_ids, txt_ids, g);
      if (true_cfg)  // neg + s * (cond - neg)
        noise = ops::guidance_combine(noise.rows(0, 1), noise.rows(1, 2), static_cast<float>(r.true_cfg));
      FlowMatchEulerScheduler::step(latents, noise, schedule.sigmas[static_cast<size_t>(i)],
                                    schedule.sigmas[static_cast<size_t>(i) + 1]);
    }
    if (keep_step_latents) out.step_latents.push_back(latents.to(Device::CPU).clone());
    if (progress) progress({i + 1, r.steps, loop_timer.seconds()});
  }
  if (arena) out.workspace = arena->stats();
  arena.reset();
  latents = latents.to(Device::CPU);
  out.latents = latents;
  out.image.width = r.width;
  out.image.height = r.height;
  if (parallel && !options_.parallel->is_root()) {  // rank 0 decodes the image
    timings.add("total", 0, total_timer.seconds());
    return out;
  }
  Tensor decoded;
  {
    Timings::Scope t(&timings, "vae_decode");
    const Tensor z = unscale_latents(flux_unpack_latents(latents, h, w), vae_->config()).to(device);
    decoded = (options_.vae_tiling ? vae_->decode_tiled(z) : vae_->decode(z)).to(Device::CPU);
  }
  out.image.pixels = to_rgb8(decoded)[0];
  timings.add("total", 0, total_timer.seconds());
  return out;
}

}  // namespace paradit
