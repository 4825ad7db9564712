// `paradit generate`: text to image through the library API (include/paradit/paradit.h).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "args.h"
#include "commands.h"
#include "parallel_options.h"
#include "text_options.h"
#include "core/error.h"
#include "core/threads.h"
#include "core/timings.h"
#include "paradit/paradit.h"

namespace paradit::cli {
namespace {

double get_double(const Args& args, const std::string& name, double fallback) {
  if (!args.has(name)) return fallback;
  const std::string v = args.get(name);
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  PD_CHECK(!v.empty() && *end == '\0', "option --", name, " needs a number, got '", v, "'");
  return d;
}

uint64_t get_seed(const Args& args) {
  if (!args.has("seed")) return 0;
  const std::string v = args.get("seed");
  char* end = nullptr;
  const unsigned long long s = std::strtoull(v.c_str(), &end, 10);
  PD_CHECK(!v.empty() && *end == '\0' && v[0] != '-', "option --seed needs a non-negative integer, got '", v, "'");
  return s;
}

// "step 3/28  1.84 s/it  ETA 46 s" on one line of stderr, redrawn in place.
void draw_progress(const api::Progress& p) {
  const double per = p.elapsed_s / p.step;
  std::fprintf(stderr, "\rstep %d/%d  %.2f s/it  ETA %.0f s   ", p.step, p.total, per, per * (p.total - p.step));
  if (p.step == p.total) std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace

int run_generate(int argc, char** argv) {
  // "-o FILE" is the one short option, as in diffusers' and sd.cpp's examples.
  std::vector<char*> rewritten(argv, argv + argc);
  static std::string long_output = "--output";
  for (auto& a : rewritten)
    if (std::string(a) == "-o") a = long_output.data();
  const Args args(argc, rewritten.data(), 2, {"no-t5", "timings", "quiet", "vae-tiling"});
  std::vector<std::string> known = {"prompt", "prompt-file", "negative-prompt", "width",  "height", "steps",  "guidance", "shift",
                                    "true-cfg", "seed",   "rng",             "init-latents", "max-sequence-length", "output",
                                    "timings", "trace",          "quiet"};
  known.insert(known.end(), kPipelineOptions.begin(), kPipelineOptions.end());
  known.insert(known.end(), kParallelOptions.begin(), kParallelOptions.end());
  args.allow_only(known);
  const Device device = parse_device(args.get("device", "cpu"));
  PD_CHECK(args.get("rng", "torch") == "torch", "--rng: only 'torch' is supported (torch.randn with a CPU generator)");
  api::LoadOptions load = load_options(args);
  load.device = device_name(device);
  // One image per process: each stage's weights can go once it is done (peak memory = the
  // largest stage instead of the sum).
  load.release_after_use = true;
  load.mesh = args.get("mesh");
  load.parallel = parallel_option(args);
  load.ulysses = args.get_int("ulysses", 1);
  load.parallel_profile = args.get("profile", "cpu");
  set_comm_timeout_option(args);

  api::Request r;
  r.prompt = args.text_or_file("prompt", true);
  r.negative_prompt = args.get("negative-prompt");
  r.width = args.get_int("width", 0);  // 0: the model's native size
  r.height = args.get_int("height", 0);
  r.steps = args.get_int("steps", 0);
  r.guidance = get_double(args, "guidance", -1);
  r.shift = get_double(args, "shift", 0);
  r.true_cfg = get_double(args, "true-cfg", 1.0);
  r.seed = get_seed(args);
  r.max_sequence_length = args.get_int("max-sequence-length", 0);  // 0: the model's default
  r.init_latents_file = args.get("init-latents");
  const std::string output = args.get("output", "out.png");
  const bool quiet = args.has("quiet");

  Timings load_timings;
  std::unique_ptr<api::Pipeline> pipe;
  {
    Timings::Scope t(&load_timings, "load");
    pipe = api::Pipeline::load(load);
  }
  if (!pipe->is_root()) {  // the other ranks run rank 0's request
    pipe->follow();
    return 0;
  }
  pipe->validate(r);  // fail on a bad request before any work
  const bool show_progress = !quiet && ::isatty(STDERR_FILENO);
  const api::Result result = pipe->generate(r, show_progress ? draw_progress : std::function<void(const api::Progress&)>{});
  pipe->release();
  result.image.save_png(output);
  if (!args.get("trace").empty()) result.write_trace(args.get("trace"));
  if (args.has("timings")) {
    std::fprintf(stderr, "%s%-28s %10.3f\n", result.timings_table.c_str(), "load (weights)",
                 load_timings.events().front().duration_s);
    std::fprintf(stderr, "model %s, %d steps, guidance %.2f, %s GEMMs, %d threads, peak RSS %.2f GB\n",
                 pipe->model_name().c_str(), result.steps, result.guidance, pipe->dtype().c_str(), num_threads(),
                 static_cast<double>(peak_rss_bytes()) / 1e9);
  }
  if (!quiet) std::fprintf(stderr, "wrote %s (%dx%d)\n", output.c_str(), result.image.width, result.image.height);
  return 0;
}

}  // namespace paradit::cli
