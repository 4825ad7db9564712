// `paradit bench transformer`: times denoising steps of a real-shaped MMDiT (random weights or
// a checkpoint) and reports ms per step and achieved TFLOP/s. Figures, never pass/fail.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <nlohmann/json.hpp>
#include <vector>

#include "args.h"
#include "commands.h"
#include "core/step_arena.h"
#include "core/device_memory.h"
#include "core/op_profile.h"
#include "core/error.h"
#include "core/threads.h"
#include "core/timer.h"
#include "core/timings.h"
#include "models/flux/flux.h"
#include "models/flux/rope.h"
#include "models/flux/weights.h"
#include "models/mmdit/mmdit.h"
#include "models/mmdit/weights.h"
#include "models/t5/t5_encoder.h"
#include "models/vae/autoencoder_kl.h"
#include "ops/ops.h"
#include "parallel_options.h"
#ifdef PARADIT_HAVE_CUDA
#include "backend/cuda/graph.h"
#endif

namespace paradit::cli {
namespace {

Tensor filled(const Shape& shape, float scale) {
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = scale * static_cast<float>((i * 7919) % 2001 - 1000) / 1000.f;
  return t;
}

// `warmup` untimed calls of `step`, then `runs` timed ones, each waited for on `device`:
// the milliseconds, sorted. `warm` runs between the two (clearing counters).
// On the host each call runs as a step of one workspace (core/step_arena.h), as the pipelines
// run theirs: the first call sizes it.
std::vector<double> time_runs(const std::function<void()>& step, int runs, int warmup, Device device,
                              const std::function<void()>& warm = {}, ArenaStats* workspace = nullptr) {
  StepArena arena;
  StepArena* use = device == Device::CPU ? &arena : nullptr;
  for (int i = 0; i < warmup; ++i) {
    const StepArena::Step s(use);
    step();
  }
  device_memory(device).synchronize();
  if (warm) warm();
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    Timer timer;
    {
      const StepArena::Step s(use);
      step();
    }
    device_memory(device).synchronize();
    ms.push_back(timer.seconds() * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  if (workspace) *workspace = arena.stats();
  return ms;
}

void print_workspace(const ArenaStats& w) {
  if (const std::string line = describe(w); !line.empty()) std::printf("  %s\n", line.c_str());
}

struct GraphTiming {
  bool ran = false;
  double median_ms = 0, min_ms = 0, max_abs_diff = 0;
  size_t nodes = 0;
};

// --graph: `step` (the part of a step after what is made from host values; its inputs stay
// at their addresses) captured once as a CUDA graph and replayed; its output is compared with
// an eager step's.
GraphTiming time_graph_replay(const std::function<Tensor()>& step, int runs, int warmup) {
#ifdef PARADIT_HAVE_CUDA
  const Tensor eager = step().to(Device::CPU);
  GraphTiming g;
  Tensor out;
  cuda::StepGraph graph;
  graph.capture([&] { out = step(); });
  const std::vector<double> ms = time_runs([&] { graph.replay(); }, runs, warmup, Device::CUDA);
  g.ran = true;
  g.median_ms = ms[ms.size() / 2];
  g.min_ms = ms.front();
  g.nodes = graph.nodes();
  const std::vector<float> a = out.to(Device::CPU).to_f32_vector(), b = eager.to_f32_vector();
  for (size_t i = 0; i < a.size(); ++i) g.max_abs_diff = std::max(g.max_abs_diff, static_cast<double>(std::fabs(a[i] - b[i])));
  return g;
#else
  (void)step, (void)runs, (void)warmup;
  fail("--graph: this build has no CUDA backend");
#endif
}


// --breakdown: one more step with the GEMMs and the attention timed on the device
// (core/op_profile.h), the rest being what is left of that step's time.
std::optional<OpBreakdown> breakdown_if_asked(const Args& args, Device device, const std::function<void()>& step) {
  if (!args.has("breakdown")) return std::nullopt;
  return profile_ops(device, step);
}

void add_breakdown(nlohmann::json& j, const std::optional<OpBreakdown>& b) {
  if (b)
    j["breakdown"] = {{"profiled_step_ms", b->total_ms}, {"gemm_ms", b->gemm_ms}, {"gemm_calls", b->gemm_calls},
                      {"attention_ms", b->attention_ms}, {"attention_calls", b->attention_calls},
                      {"rest_ms", b->rest_ms()}};
}

void print_breakdown(const std::optional<OpBreakdown>& b) {
  if (!b) return;
  const double t = b->total_ms > 0 ? b->total_ms : 1;
  std::printf("  breakdown of one profiled step (%.1f ms): GEMM %.1f ms (%lld calls, %.0f%%), attention %.1f ms "
              "(%lld calls, %.0f%%), the rest %.1f ms (%.0f%%)\n", b->total_ms, b->gemm_ms,
              static_cast<long long>(b->gemm_calls), 100 * b->gemm_ms / t, b->attention_ms,
              static_cast<long long>(b->attention_calls), 100 * b->attention_ms / t, b->rest_ms(),
              100 * b->rest_ms() / t);
}

void add_graph(nlohmann::json& j, const GraphTiming& g) {
  if (g.ran)
    j.update({{"graph_median_ms", g.median_ms}, {"graph_min_ms", g.min_ms}, {"graph_nodes", g.nodes},
              {"graph_max_abs_diff_vs_eager", g.max_abs_diff}});
}

void print_graph(const GraphTiming& g, double tflop) {
  if (g.ran)
    std::printf("  CUDA graph replay (%zu nodes): median %.1f ms, min %.1f ms, %.3f TFLOP/s; output vs eager: max "
                "|diff| %.3g\n", g.nodes, g.median_ms, g.min_ms, tflop / (g.median_ms / 1e3), g.max_abs_diff);
}

// FLUX.1 at its real shapes (single rank): the packed latent is (size/16)^2 tokens of 64
// channels; --layers N keeps N double-stream and 2N single-stream blocks (the real 19:38).
int bench_flux_transformer(const Args& args) {
  args.allow_only({"config", "random-weights", "model", "size", "batch", "runs", "warmup", "dtype", "device", "threads",
                   "prompt-tokens", "json", "layers", "graph", "breakdown"});
  const Device device = parse_device(args.get("device", "cpu"));
  PD_CHECK(!args.has("graph") || device == Device::CUDA, "--graph needs --device cuda (a CUDA graph replays GPU work)");
  set_num_threads(args.get_int("threads", 0));
  const DType compute = parse_dtype(args.get("dtype", "bf16"));
  const int size = args.get_int("size", 1024), batch = args.get_int("batch", 1);
  const int runs = args.get_int("runs", 3), warmup = args.get_int("warmup", 1);
  const int text_tokens = args.get_int("prompt-tokens", 512);
  PD_CHECK(size > 0 && size % 16 == 0, "--size must be a positive multiple of 16");
  PD_CHECK(batch > 0 && runs > 0 && warmup >= 0 && text_tokens > 0, "--batch, --runs, --prompt-tokens must be > 0");
  FluxConfig config;
  FluxWeights weights;
  std::string label;
  if (args.has("model")) {
    weights = open_flux_weights(args.get("model"));
    config = weights.config;
    label = args.get("model");
  } else {
    PD_CHECK(args.has("random-weights"), "bench: give --model PATH or --config NAME --random-weights");
    label = args.require("config");
    config = FluxConfig::preset(label);
  }
  if (args.has("layers")) {
    const int layers = args.get_int("layers", 0);
    PD_CHECK(layers >= 1 && layers <= config.num_layers && 2 * layers <= config.num_single_layers,
             "--layers must be in 1..", std::min(config.num_layers, config.num_single_layers / 2));
    config.num_layers = layers;
    config.num_single_layers = 2 * layers;
    label += " (" + std::to_string(layers) + " double + " + std::to_string(2 * layers) + " single blocks)";
  }
  Timer load_timer;
  LoadContext ctx{weights.source.get(), compute, weights.source ? std::nullopt : std::optional<uint64_t>(1234)};
  ctx.device = device;
  const FluxTransformer model = FluxTransformer::load(ctx, config);
  const double load_s = load_timer.seconds();
  const int64_t side = size / 16, tokens = side * side;
  const Tensor x = filled({batch, tokens, config.in_channels}, 1.f).to(device);
  const Tensor context = filled({batch, text_tokens, config.joint_attention_dim}, 0.5f).to(device);
  const Tensor pooled = filled({batch, config.pooled_projection_dim}, 0.5f).to(device);
  const Tensor img_ids = flux_image_ids(side, side), txt_ids = Tensor::zeros({text_tokens, 3});
  const std::vector<float> t(static_cast<size_t>(batch), 0.5f), guidance(static_cast<size_t>(batch), 3.5f);
  const std::vector<float>* g = config.guidance_embeds ? &guidance : nullptr;
  int64_t reorders_before = 0;
  ArenaStats workspace;
  const std::vector<double> ms = time_runs([&] { model.forward(x, context, pooled, t, img_ids, txt_ids, g); }, runs,
                                           warmup, device, [&] { reorders_before = ops::packed_weight_reorders(); },
                                           &workspace);
  const double median = ms[ms.size() / 2], best = ms.front();
  const double tflop = flux_flops(config, tokens, text_tokens, batch) / 1e12, tflops = tflop / (median / 1e3);
  const auto breakdown =
      breakdown_if_asked(args, device, [&] { model.forward(x, context, pooled, t, img_ids, txt_ids, g); });
  GraphTiming graph;
  if (args.has("graph")) {
    const FluxTransformer::Prepared prepared = model.prepare(pooled, t, img_ids, txt_ids, g);
    graph = time_graph_replay([&] { return model.forward_prepared(x, context, prepared); }, runs, warmup);
  }
  if (args.has("json")) {
    const nlohmann::json j = {{"median_ms", median}, {"min_ms", best}, {"tflop_per_step", tflop}, {"tflops", tflops},
                              {"config", label}, {"size", size}, {"batch", batch}, {"device", device_name(device)},
                              {"dtype", compute == DType::BF16 ? "bf16" : "f32"}, {"threads", num_threads()},
                              {"load_s", load_s}, {"runs", runs}, {"text_tokens", text_tokens},
                              {"workspace_mib", static_cast<double>(workspace.block_bytes) / (1 << 20)},
                              {"packed_weight_reorders_per_step",
                               static_cast<double>(ops::packed_weight_reorders() - reorders_before) / runs}};
    nlohmann::json jg = j;
    add_graph(jg, graph);
    add_breakdown(jg, breakdown);
    std::printf("%s\n", jg.dump().c_str());
  } else {
    std::printf("transformer %s, %dx%d, batch %d, %d text tokens, %s, %s, %d threads\n", label.c_str(), size, size,
                batch, text_tokens, compute == DType::BF16 ? "bf16" : "f32", device_name(device), num_threads());
    std::printf("  weights ready in %.1f s\n", load_s);
    std::printf("  step: median %.1f ms, min %.1f ms over %d runs (after %d warm-up)\n", median, best, runs, warmup);
    std::printf("  %.3f TFLOP per step, %.3f TFLOP/s achieved\n", tflop, tflops);
    print_workspace(workspace);
    print_graph(graph, tflop);
    print_breakdown(breakdown);
  }
  return 0;
}

bool wants_flux(const Args& args) {
  if (args.has("model")) return is_flux_transformer(args.get("model"));
  return args.get("config", "").rfind("flux", 0) == 0;
}

int bench_transformer(const Args& args) {
  if (wants_flux(args)) return bench_flux_transformer(args);
  std::vector<std::string> known = {"config", "random-weights", "model", "size",   "batch", "runs", "warmup",
                                    "dtype",  "device",         "threads", "prompt-tokens", "json",   "layers",
                                    "graph", "breakdown"};
  known.insert(known.end(), kParallelOptions.begin(), kParallelOptions.end());
  args.allow_only(known);
  const Device device = parse_device(args.get("device", "cpu"));
  PD_CHECK(!args.has("graph") || device == Device::CUDA, "--graph needs --device cuda (a CUDA graph replays GPU work)");
  set_num_threads(args.get_int("threads", 0));
  const DType compute = parse_dtype(args.get("dtype", "bf16"));
  const int size = args.get_int("size", 1024), batch = args.get_int("batch", 2);
  const int runs = args.get_int("runs", 3), warmup = args.get_int("warmup", 1);
  const int prompt_tokens = args.get_int("prompt-tokens", 333);
  PD_CHECK(size > 0 && size % 16 == 0, "--size must be a positive multiple of 16");
  PD_CHECK(batch > 0 && runs > 0 && warmup >= 0 && prompt_tokens > 0, "--batch, --runs, --prompt-tokens must be > 0");

  MMDiTConfig config;
  MMDiTWeights weights;
  std::string label;
  if (args.has("model")) {
    weights = open_mmdit_weights(args.get("model"));
    config = weights.config;
    label = args.get("model");
  } else {
    PD_CHECK(args.has("random-weights"), "bench: give --model PATH or --config NAME --random-weights");
    label = args.require("config");
    config = MMDiTConfig::preset(label);
  }
  if (args.has("layers")) {
    // A truncated stack of real-shaped blocks: per-block time and traffic at a fraction of the
    // memory (the collectives' volume per block does not depend on the depth).
    const int layers = args.get_int("layers", 0);
    PD_CHECK(layers >= 1 && layers <= config.num_layers, "--layers must be in 1..", config.num_layers);
    config.num_layers = layers;
    std::erase_if(config.dual_attention_layers, [&](int64_t i) { return i >= layers; });
    label += " (" + std::to_string(layers) + " blocks)";
  }
  const int64_t latent = size / 8;
  auto groups = parallel_groups(args, mmdit_step_shape(config, latent, latent, prompt_tokens, batch), device);
  Timer load_timer;
  LoadContext ctx{weights.source.get(), compute, weights.source ? std::nullopt : std::optional<uint64_t>(1234)};
  ctx.parallel = groups.get();
  ctx.device = device;
  const MMDiT model = MMDiT::load(ctx, config);
  const double load_s = load_timer.seconds();

  const Tensor x = filled({batch, config.in_channels, latent, latent}, 1.f).to(device);
  const Tensor context = filled({batch, prompt_tokens, config.joint_attention_dim}, 0.5f).to(device);
  const Tensor pooled = filled({batch, config.pooled_projection_dim}, 0.5f).to(device);
  const std::vector<float> t(static_cast<size_t>(batch), 500.f);
  int64_t reorders_before = 0;
  ArenaStats workspace;
  const std::vector<double> ms = time_runs(
      [&] { model.forward(x, context, pooled, t); }, runs, warmup, device,
      [&] {
        groups->stats().clear();
        reorders_before = ops::packed_weight_reorders();
      },
      &workspace);
  const double median = ms[ms.size() / 2], best = ms.front();
  const auto breakdown = breakdown_if_asked(args, device, [&] { model.forward(x, context, pooled, t); });
  GraphTiming graph;
  if (args.has("graph")) {
    const Tensor temb = model.time_embedding(t, pooled);
    graph = time_graph_replay([&] { return model.forward_with_temb(x, context, temb); }, runs, warmup);
  }
  const int64_t image_tokens = (latent / config.patch_size) * (latent / config.patch_size);
  const double tflop = mmdit_flops(config, image_tokens, prompt_tokens, batch) / 1e12;
  const double tflops = tflop / (median / 1e3);
  if (!groups->is_root()) return 0;
  nlohmann::json comm = nlohmann::json::object();
  for (const auto& [name, s] : groups->stats().by_name())
    comm[name] = {{"calls_per_step", static_cast<double>(s.calls) / runs}, {"mb_per_step", s.bytes / 1e6 / runs},
                  {"s_per_step", s.seconds / runs}};
  if (args.has("json")) {
    const nlohmann::json j = {{"median_ms", median}, {"min_ms", best},      {"tflop_per_step", tflop},
                              {"tflops", tflops},    {"config", label},     {"size", size},
                              {"batch", batch},      {"device", device_name(device)}, {"dtype", compute == DType::BF16 ? "bf16" : "f32"},
                              {"threads", num_threads()}, {"load_s", load_s}, {"runs", runs},
                              {"ranks", groups->world->size()}, {"mesh", groups->mesh.str()},
                              {"parallel", groups->config.str()}, {"comm", comm},
                              {"workspace_mib", static_cast<double>(workspace.block_bytes) / (1 << 20)},
                              {"packed_weight_reorders_per_step",
                               static_cast<double>(ops::packed_weight_reorders() - reorders_before) / runs}};
    nlohmann::json jg = j;
    add_graph(jg, graph);
    add_breakdown(jg, breakdown);
    std::printf("%s\n", jg.dump().c_str());
  } else {
    std::printf("transformer %s, %dx%d, batch %d, %d prompt tokens, %s, %s, %d threads\n", label.c_str(), size, size,
                batch, prompt_tokens, compute == DType::BF16 ? "bf16" : "f32", device_name(device), num_threads());
    std::printf("  weights ready in %.1f s\n", load_s);
    std::printf("  step: median %.1f ms, min %.1f ms over %d runs (after %d warm-up)\n", median, best, runs, warmup);
    std::printf("  %.3f TFLOP per step, %.3f TFLOP/s achieved\n", tflop, tflops);
    print_workspace(workspace);
    print_graph(graph, tflop);
    print_breakdown(breakdown);
    if (!groups->trivial()) {
      const PlanCost predicted = estimate(groups->config, mmdit_step_shape(config, latent, latent, prompt_tokens, batch),
                                      device_profile("cpu"));
      std::printf("  %s\n", groups->describe().c_str());
      std::printf("  rank 0 sent %.3f MB per step; the cost model says %.3f MB\n",
                  groups->stats().total_bytes() / 1e6 / runs, predicted.comm_bytes / 1e6);
      for (const auto& [name, s] : groups->stats().by_name())
        std::printf("  rank 0 %-14s %6.1f calls, %9.3f MB, %8.3f s per step\n", name.c_str(),
                    static_cast<double>(s.calls) / runs, s.bytes / 1e6 / runs, s.seconds / runs);
    }
  }
  return 0;
}

// T5-XXL encoder with real-shaped random weights: the text side's heaviest piece.
int bench_t5(const Args& args) {
  args.allow_only({"random-weights", "batch", "tokens", "runs", "warmup", "dtype", "device", "threads", "json"});
  const Device device = parse_device(args.get("device", "cpu"));
  PD_CHECK(args.has("random-weights"), "bench t5: only --random-weights (real T5-XXL shapes) is supported");
  set_num_threads(args.get_int("threads", 0));
  const DType compute = parse_dtype(args.get("dtype", "bf16"));
  const int batch = args.get_int("batch", 2), tokens = args.get_int("tokens", 256);
  const int runs = args.get_int("runs", 3), warmup = args.get_int("warmup", 1);
  PD_CHECK(batch > 0 && tokens > 0 && runs > 0 && warmup >= 0, "--batch, --tokens, --runs must be > 0");
  const T5Config config = T5Config::t5_xxl();
  Timer load_timer;
  LoadContext ctx{nullptr, compute, std::optional<uint64_t>(99)};
  ctx.device = device;
  const T5Encoder t5 = T5Encoder::load(ctx, config);
  const double load_s = load_timer.seconds();
  std::vector<std::vector<int32_t>> ids(static_cast<size_t>(batch));
  for (auto& row : ids)
    for (int i = 0; i < tokens; ++i) row.push_back((i * 7919 + 13) % 32000);
  const std::vector<double> ms = time_runs([&] { t5.forward(ids); }, runs, warmup, device);
  const double median = ms[ms.size() / 2];
  const double D = static_cast<double>(config.d_model), F = static_cast<double>(config.d_ff);
  const double n = static_cast<double>(batch) * tokens;
  const double tflop = static_cast<double>(config.num_layers) *
                       (2 * n * D * 4 * D + 2 * n * D * 3 * F + 4.0 * batch * tokens * tokens * D) / 1e12;
  if (args.has("json")) {
    const nlohmann::json j = {{"median_ms", median}, {"min_ms", ms.front()}, {"tflop", tflop},
                              {"tflops", tflop / (median / 1e3)}, {"config", "t5-xxl"}, {"batch", batch},
                              {"tokens", tokens}, {"device", device_name(device)},
                              {"dtype", compute == DType::BF16 ? "bf16" : "f32"},
                              {"threads", num_threads()}, {"load_s", load_s}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("T5-XXL encoder, batch %d x %d tokens, %s, %s, %d threads\n", batch, tokens,
                compute == DType::BF16 ? "bf16" : "f32", device_name(device), num_threads());
    std::printf("  weights ready in %.1f s; forward median %.1f ms, min %.1f ms; %.3f TFLOP, %.3f TFLOP/s\n", load_s,
                median, ms.front(), tflop, tflop / (median / 1e3));
  }
  return 0;
}

// The SD3 VAE decoder (real shapes, random weights) at one image size.
int bench_vae(const Args& args) {
  args.allow_only({"random-weights", "size", "runs", "warmup", "device", "threads", "tiled", "json"});
  const Device device = parse_device(args.get("device", "cpu"));
  PD_CHECK(args.has("random-weights"), "bench vae: only --random-weights (SD3's VAE shapes) is supported");
  set_num_threads(args.get_int("threads", 0));
  const int size = args.get_int("size", 1024), runs = args.get_int("runs", 3), warmup = args.get_int("warmup", 1);
  PD_CHECK(size > 0 && size % 8 == 0 && runs > 0 && warmup >= 0, "--size must be a positive multiple of 8");
  const VaeConfig config;
  LoadContext ctx{nullptr, DType::F32, std::optional<uint64_t>(7)};
  ctx.device = device;
  const AutoencoderKL vae = AutoencoderKL::load(ctx, config, false);
  const Tensor z = filled({1, config.latent_channels, size / 8, size / 8}, 1.f).to(device);
  const bool tiled = args.has("tiled");
  PD_CHECK(!tiled || device == Device::CPU, "bench vae: --tiled runs on the CPU only");
  const std::vector<double> ms =
      time_runs([&] { tiled ? vae.decode_tiled(z) : vae.decode(z); }, runs, warmup, device);
  const double median = ms[ms.size() / 2];
  if (args.has("json")) {
    const nlohmann::json j = {{"median_ms", median}, {"min_ms", ms.front()}, {"size", size}, {"tiled", tiled},
                              {"device", device_name(device)}, {"dtype", "f32"}, {"threads", num_threads()},
                              {"peak_rss_gb", static_cast<double>(peak_rss_bytes()) / 1e9}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("SD3 VAE decode %dx%d%s, f32, %s, %d threads: median %.1f ms, min %.1f ms, peak RSS %.2f GB\n", size,
                size, tiled ? " (tiled)" : "", device_name(device), num_threads(), median, ms.front(),
                static_cast<double>(peak_rss_bytes()) / 1e9);
  }
  return 0;
}

}  // namespace

int run_bench(int argc, char** argv) {
  const std::string what = argc >= 3 ? argv[2] : "";
  if (what == "t5") return bench_t5(Args(argc, argv, 3, {"random-weights", "json"}));
  if (what == "vae") return bench_vae(Args(argc, argv, 3, {"random-weights", "json", "tiled"}));
  if (what == "make-pipeline") return run_make_pipeline(Args(argc, argv, 3, {}));
  PD_CHECK(what == "transformer", "bench: unknown benchmark '", what,
           "' (known: transformer, t5, vae, make-pipeline; see paradit bench --help)");
  return bench_transformer(Args(argc, argv, 3, {"random-weights", "json", "graph", "breakdown"}));
}

}  // namespace paradit::cli
