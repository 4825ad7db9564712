// The public API (include/paradit/paradit.h) over the SD3.5 and FLUX.1 pipelines (the model's
// files say which: a FluxPipeline folder runs FLUX).
#include <optional>
#include <sstream>

#include "core/device_memory.h"
#include "core/error.h"
#include "core/threads.h"
#include "io/checkpoint.h"
#include "io/atomic_file.h"
#include "io/png.h"
#include "paradit/paradit.h"
#include "core/cpu_features.h"
#include "pipelines/flux/pipeline.h"
#include "pipelines/sd35/pipeline.h"
#include "models/flux/weights.h"
#include "models/mmdit/weights.h"
#include "parallel/setup.h"
#include "pipelines/sd35/request_broadcast.h"

namespace paradit::api {

// AVX512-BF16 or AMX-BF16: bf16 products at twice the f32 rate or more (docs/perf.md).
static bool cpu_has_native_bf16() { return cpu_features().avx512_bf16 || cpu_features().amx_bf16; }

struct Pipeline::Impl {
  std::unique_ptr<ParallelGroups> groups;  // before the pipeline, whose transformer uses it
  std::optional<Sd35Pipeline> sd3;         // one of the two
  std::optional<FluxPipeline> flux;
  LoadOptions options;
  std::string dtype;

  void validate(const GenerateRequest& r) const { flux ? flux->validate(r) : sd3->validate(r); }
  GenerateResult generate(const GenerateRequest& r, const ProgressFn& progress, const std::atomic<bool>* cancel) const {
    return flux ? flux->generate(r, progress, cancel) : sd3->generate(r, progress, cancel);
  }
  const ModelDefaults& defaults() const { return flux ? flux->defaults() : sd3->defaults(); }
};

Pipeline::Pipeline() = default;
Pipeline::~Pipeline() = default;

std::unique_ptr<Pipeline> Pipeline::load(const LoadOptions& o) {
  PD_CHECK(!o.model.empty(), "model: no model path given");
  PD_CHECK(o.dtype == "auto" || o.dtype == "f32" || o.dtype == "bf16", "dtype: must be auto, f32 or bf16, got '",
           o.dtype, "'");
  PD_CHECK(o.device == "cpu" || o.device == "cuda", "device: must be cpu or cuda, got '", o.device, "'");
  const Device device = o.device == "cuda" ? Device::CUDA : Device::CPU;
  if (device == Device::CUDA) {
    PD_CHECK(has_device_memory(Device::CUDA), "device cuda: this build of paradit has no CUDA backend");
    (void)Tensor::empty({1}, DType::F32, Device::CUDA);  // fails here, in one line, without a usable GPU
  }
  set_num_threads(o.threads);
  PipelineOptions p;
  p.model = o.model;
  p.transformer = o.transformer;
  p.clip_l = o.clip_l;
  p.clip_g = o.clip_g;
  p.t5 = o.t5xxl;
  p.vae = o.vae;
  p.no_t5 = o.no_t5;
  // auto: bf16 on the GPU, and on CPUs with native bf16 dot products.
  p.dtype = o.dtype == "bf16" || (o.dtype == "auto" && (device == Device::CUDA || cpu_has_native_bf16()))
                ? DType::BF16
                : DType::F32;
  p.device = device;
  p.vae_tiling = o.vae_tiling;
  p.release_after_use = o.release_after_use;
  ParallelOptions po;
  po.mesh = o.mesh;
  po.parallel = o.parallel;
  po.ulysses = o.ulysses;
  po.profile = o.parallel_profile;
  const bool flux = is_flux_pipeline(o.model);
  // What `auto` plans for: this model at 1024x1024; SD3 with CFG and 333 prompt tokens, FLUX
  // one sample (true CFG is a per-request choice) and 512 T5 tokens.
  StepShape shape;
  if (!o.mesh.empty())
    shape = flux ? flux_step_shape(open_flux_weights(o.model).config, 128, 128, 512, 1)
                 : mmdit_step_shape(open_mmdit_weights(o.model).config, 128, 128, 333, 2);
  po.device = device;
  auto groups = setup_parallel(po, shape);
  p.parallel = groups.get();
  std::unique_ptr<Pipeline> out(new Pipeline());
  out->impl_ = std::make_unique<Impl>();
  out->impl_->groups = std::move(groups);
  if (flux) out->impl_->flux = FluxPipeline::load(p);
  else out->impl_->sd3 = Sd35Pipeline::load(p);
  out->impl_->options = o;
  out->impl_->dtype = p.dtype == DType::BF16 ? "bf16" : "f32";
  return out;
}

namespace {

GenerateRequest to_internal(const Request& r) {
  GenerateRequest g;
  g.prompt = r.prompt;
  g.negative_prompt = r.negative_prompt;
  g.width = r.width;
  g.height = r.height;
  g.steps = r.steps;
  g.guidance = r.guidance;
  g.shift = r.shift;
  g.true_cfg = r.true_cfg;
  g.seed = r.seed;
  g.max_sequence_length = r.max_sequence_length;
  if (!r.init_latents_file.empty()) {
    const Checkpoint ck = Checkpoint::open(r.init_latents_file);
    PD_CHECK(ck.has("latents"), r.init_latents_file, ": no tensor named 'latents'");
    g.init_latents = ck.get("latents").to(DType::F32);
  }
  return g;
}

// AUTOMATIC1111's infotext. FLUX's guidance is the distilled guidance fed to the model, not
// classifier-free guidance: written as Forge writes it ("Distilled CFG Scale"), with "CFG scale"
// the true-CFG scale (1 without it).
std::string describe(const Request& r, const GenerateResult& g, const std::string& model, bool flux) {
  std::ostringstream out;
  out << r.prompt << "\nNegative prompt: " << r.negative_prompt << "\nSteps: " << g.steps
      << ", Sampler: flow-match Euler, ";
  if (flux) {
    const bool true_cfg = r.true_cfg > 1.0 && !r.negative_prompt.empty();
    out << "CFG scale: " << (true_cfg ? r.true_cfg : 1.0) << ", Distilled CFG Scale: " << g.guidance;
  } else {
    out << "CFG scale: " << g.guidance;
  }
  out << ", Seed: " << r.seed << ", Size: " << g.image.width << "x" << g.image.height << ", Model: " << model
      << ", Generator: paradit";
  return out.str();
}

}  // namespace

void Pipeline::validate(const Request& r) const { impl_->validate(to_internal(r)); }

Result Pipeline::generate(const Request& request, const std::function<void(const Progress&)>& on_step,
                          const std::atomic<bool>* cancel) const {
  auto& groups = *impl_->groups;
  PD_CHECK(groups.is_root(), "generate: only rank 0 starts generations; the other ranks call follow()");
  const GenerateRequest g = to_internal(request);
  impl_->validate(g);  // a bad request fails here, on rank 0, before any rank starts it
  if (!groups.trivial()) send_request(*groups.world, &g);
  GenerateResult out;
  try {
    out = impl_->generate(
        g, [&](const StepInfo& s) { if (on_step) on_step({s.step, s.total, s.elapsed_s}); }, cancel);
  } catch (const CancelledError&) {
    throw Cancelled();
  }
  Result r;
  r.steps = out.steps;
  r.guidance = out.guidance;
  r.image.width = out.image.width;
  r.image.height = out.image.height;
  r.image.rgb = std::move(out.image.pixels);
  r.image.parameters = describe(request, out, model_name(), impl_->flux.has_value());
  r.timings_table = out.timings.table();
  if (const std::string w = describe(out.workspace); !w.empty()) r.timings_table += w + "\n";
  if (!impl_->groups->trivial()) {
    r.timings_table += parallel_config() + "\n" + comm_table(impl_->groups->stats());
    impl_->groups->stats().clear();
  }
  for (const auto& e : out.timings.events()) r.sections.emplace_back(e.name, e.duration_s);
  r.trace_json = out.timings.chrome_trace_json();
  return r;
}

int Pipeline::follow() const {
  auto& groups = *impl_->groups;
  if (groups.is_root()) return 0;
  int done = 0;
  while (auto request = receive_request(*groups.world)) {
    try {
      impl_->generate(*request, {}, nullptr);
    } catch (const CancelledError&) {  // rank 0 cancelled it: wait for the next one
    } catch (const Error&) {  // rank 0 meets the same error and reports it to its caller
    }
    ++done;
  }
  return done;
}

void Pipeline::release() const {
  auto& groups = *impl_->groups;
  if (groups.is_root() && !groups.trivial()) send_request(*groups.world, nullptr);
}

std::string Pipeline::model_name() const { return impl_->defaults().name; }
int Pipeline::default_steps() const { return impl_->defaults().steps; }
double Pipeline::default_guidance() const { return impl_->defaults().guidance; }
std::string Pipeline::dtype() const { return impl_->dtype; }
bool Pipeline::is_root() const { return impl_->groups->is_root(); }
std::string Pipeline::parallel_config() const { return impl_->groups->describe(); }
int Pipeline::default_size() const { return impl_->defaults().width; }

int Pipeline::max_size() const {
  if (impl_->flux) return 4096;  // rotary positions have no table to outgrow; FluxPipeline's own check
  const auto& t = impl_->sd3->transformer_config();
  return static_cast<int>(t.pos_embed_max_size * t.patch_size * impl_->sd3->vae_config().downscale());
}

namespace {
RgbImage to_png_image(const Image& img) {
  RgbImage out;
  out.width = img.width;
  out.height = img.height;
  out.pixels = img.rgb;
  if (!img.parameters.empty()) out.text["parameters"] = img.parameters;
  return out;
}
}  // namespace

void Image::save_png(const std::string& path) const { write_png(path, to_png_image(*this)); }
std::vector<uint8_t> Image::png() const { return encode_png(to_png_image(*this)); }

void Result::write_trace(const std::string& path) const { write_file_atomic(path, trace_json); }

}  // namespace paradit::api
