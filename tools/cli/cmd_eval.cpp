// `paradit eval transformer`: one forward pass of a component on tensors from a file, for
// checking paradit against another implementation.
#include <cstdio>
#include <cstdlib>

#include "args.h"
#include "commands.h"
#include "core/error.h"
#include "core/threads.h"
#include "io/checkpoint.h"
#include "models/flux/flux.h"
#include "models/flux/weights.h"
#include "models/mmdit/mmdit.h"
#include "models/mmdit/weights.h"
#include "core/timer.h"
#include "parallel_options.h"
#ifdef PARADIT_HAVE_CUDA
#include "backend/cuda/device.h"
#include "backend/cuda/stream.h"
#endif

namespace paradit::cli {

DType parse_dtype(const std::string& s) {
  if (s == "f32") return DType::F32;
  if (s == "bf16") return DType::BF16;
  fail("--dtype must be f32 or bf16, got '", s, "'");
}

void require_cpu(const std::string& device) {
  PD_CHECK(device == "cpu" || device == "cuda", "--device must be cpu or cuda, got '", device, "'");
  PD_CHECK(device == "cpu", "--device cuda: this command does not run on the GPU yet (bench transformer and ",
           "eval transformer do); use --device cpu");
}

Device parse_device(const std::string& device) {
  PD_CHECK(device == "cpu" || device == "cuda", "--device must be cpu or cuda, got '", device, "'");
  if (device == "cpu") return Device::CPU;
#ifdef PARADIT_HAVE_CUDA
  PD_CHECK(cuda::device_count() > 0, "--device cuda: ", cuda::unavailable_reason());
  // Ranks of one node spread over its GPUs (Open MPI and MPICH name the local rank).
  int local_rank = 0;
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "LOCAL_RANK"})
    if (const char* v = std::getenv(name)) {
      local_rank = std::atoi(v);
      break;
    }
  cuda::select_device_for_local_rank(local_rank);
  return Device::CUDA;
#else
  fail("--device cuda: this build has no CUDA backend (build with nvcc installed)");
#endif
}

namespace {

// FLUX.1: the inputs as diffusers' FluxTransformer2DModel takes them (hidden_states [B, N, C]
// packed latents, encoder_hidden_states, pooled_projections, timestep [B] = t / 1000, img_ids
// [N, 3], txt_ids [T, 3], guidance [B] for [dev]); writes sample [B, N, C]. One rank.
int eval_flux_transformer(const Args& args) {
  args.allow_only({"model", "in", "out", "device", "dtype", "threads", "timings"});
  const Device device = parse_device(args.get("device", "cpu"));
  set_num_threads(args.get_int("threads", 0));
  const DType compute = parse_dtype(args.get("dtype", "f32"));
  const std::string in_path = args.require("in"), out_path = args.require("out");
  const Checkpoint inputs = Checkpoint::open(in_path);
  auto input = [&](const char* name) {
    PD_CHECK(inputs.has(name), in_path, ": missing input tensor '", name, "'");
    return inputs.get(name).to(DType::F32).to(device);
  };
  const auto weights = open_flux_weights(args.require("model"));
  const Tensor timestep = input("timestep");
  PD_CHECK(timestep.dim() == 1, in_path, ": 'timestep' must be [B], got ", timestep.describe());
  std::vector<float> guidance;
  if (weights.config.guidance_embeds) {
    const Tensor g = input("guidance");
    PD_CHECK(g.dim() == 1, in_path, ": 'guidance' must be [B], got ", g.describe());
    guidance = g.to_f32_vector();
  } else {
    PD_CHECK(!inputs.has("guidance"), in_path, ": this FLUX model has no guidance embedding ([schnell]); ",
             "remove 'guidance'");
  }
  LoadContext ctx{weights.source.get(), compute, std::nullopt};
  ctx.device = device;
  const FluxTransformer model = FluxTransformer::load(ctx, weights.config);
  Timer timer;
  const Tensor sample =
      model.forward(input("hidden_states"), input("encoder_hidden_states"), input("pooled_projections"),
                    timestep.to_f32_vector(), input("img_ids"), input("txt_ids"),
                    weights.config.guidance_embeds ? &guidance : nullptr)
          .to(Device::CPU);
  const double seconds = timer.seconds();
  save_safetensors(out_path, {{"sample", sample}}, {{"producer", "paradit eval transformer"}});
  std::fprintf(stderr, "wrote %s: sample %s\n", out_path.c_str(), sample.describe().c_str());
  if (args.has("timings")) std::fprintf(stderr, "forward %.3f s\n", seconds);
  return 0;
}

int eval_transformer(const Args& args) {
  if (args.has("model") && is_flux_transformer(args.get("model"))) return eval_flux_transformer(args);
  std::vector<std::string> known = {"model", "in", "out", "device", "dtype", "threads", "timings"};
  known.insert(known.end(), kParallelOptions.begin(), kParallelOptions.end());
  args.allow_only(known);
  const Device device = parse_device(args.get("device", "cpu"));
  set_num_threads(args.get_int("threads", 0));
  const DType compute = parse_dtype(args.get("dtype", "f32"));
  const std::string in_path = args.require("in"), out_path = args.require("out");
  const Checkpoint inputs = Checkpoint::open(in_path);
  auto input = [&](const char* name) {
    PD_CHECK(inputs.has(name), in_path, ": missing input tensor '", name, "'");
    return inputs.get(name).to(DType::F32).to(device);
  };
  const Tensor latent = input("hidden_states"), context = input("encoder_hidden_states"),
               pooled = input("pooled_projections"), timestep = input("timestep");
  PD_CHECK(timestep.dim() == 1, in_path, ": 'timestep' must be [B], got ", timestep.describe());
  const auto weights = open_mmdit_weights(args.require("model"));
  PD_CHECK(latent.dim() == 4 && context.dim() == 3, in_path, ": hidden_states must be [B, C, H, W] and ",
           "encoder_hidden_states [B, T, D]");
  auto groups = parallel_groups(
      args, mmdit_step_shape(weights.config, latent.size(2), latent.size(3), context.size(1), latent.size(0)), device);
  LoadContext ctx{weights.source.get(), compute, std::nullopt};
  ctx.parallel = groups.get();
  ctx.device = device;
  const MMDiT model = MMDiT::load(ctx, weights.config);
  groups->stats().clear();
  Timer timer;
  const Tensor sample = model.forward(latent, context, pooled, timestep.to_f32_vector()).to(Device::CPU);
  const double seconds = timer.seconds();
  if (!groups->is_root()) return 0;  // rank 0 writes; every rank holds the same gathered result
  save_safetensors(out_path, {{"sample", sample}}, {{"producer", "paradit eval transformer"}});
  std::fprintf(stderr, "wrote %s: sample %s\n", out_path.c_str(), sample.describe().c_str());
  if (args.has("timings")) {
    std::fprintf(stderr, "forward %.3f s; %s\n%s", seconds, groups->describe().c_str(),
                 comm_table(groups->stats()).c_str());
  }
  return 0;
}

}  // namespace

int run_eval(int argc, char** argv) {
  const std::string component = argv[2];
  if (component == "clip-l" || component == "clip-g" || component == "t5" || component == "encode-prompt")
    return run_eval_text(component, argc, argv);
  PD_CHECK(component == "transformer", "eval: unknown component '", component,
           "' (known: transformer, clip-l, clip-g, t5, encode-prompt; see paradit eval --help)");
  return eval_transformer(Args(argc, argv, 3, {"timings"}));
}

}  // namespace paradit::cli
