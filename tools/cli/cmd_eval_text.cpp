// `paradit eval clip-l|clip-g|t5` (one encoder on token ids from a file) and
// `paradit eval encode-prompt` (SD3 prompt encoding, with the negative prompt).
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "core/error.h"
#include "core/threads.h"
#include "io/checkpoint.h"
#include "models/clip/load.h"
#include "models/t5/load.h"
#include "parallel_options.h"
#include "text_options.h"

namespace paradit::cli {
namespace {

std::vector<std::vector<int32_t>> read_ids(const std::string& path) {
  const Checkpoint in = Checkpoint::open(path);
  PD_CHECK(in.has("input_ids"), path, ": missing input tensor 'input_ids'");
  const Tensor t = in.get("input_ids");
  PD_CHECK(t.dim() == 2 && (t.dtype() == DType::I32 || t.dtype() == DType::I64), path,
           ": 'input_ids' must be [B, T] int32 or int64, got ", t.describe());
  std::vector<std::vector<int32_t>> ids(static_cast<size_t>(t.size(0)));
  for (int64_t i = 0; i < t.numel(); ++i)
    ids[static_cast<size_t>(i / t.size(1))].push_back(t.dtype() == DType::I32 ? t.data<int32_t>()[i]
                                                                               : static_cast<int32_t>(t.data<int64_t>()[i]));
  return ids;
}

int eval_encoder(const std::string& which, const Args& args) {
  std::vector<std::string> known = {"model", "in", "out", "device", "dtype", "threads"};
  if (which == "t5") known.insert(known.end(), kParallelOptions.begin(), kParallelOptions.end());
  args.allow_only(known);
  require_cpu(args.get("device", "cpu"));
  set_num_threads(args.get_int("threads", 0));
  const DType compute = parse_dtype(args.get("dtype", "f32"));
  const auto ids = read_ids(args.require("in"));
  const std::string model = args.require("model"), out = args.require("out");
  NamedTensors result;
  if (which == "t5") {  // under mpirun: tensor-parallel over the tp group (sp and cfg ranks repeat it)
    auto groups = parallel_groups(args, StepShape{});
    result.emplace_back("last_hidden_state", load_t5_encoder(model, compute, groups.get()).model.forward(ids));
    if (!groups->is_root()) return 0;
  } else {
    const auto o = load_clip_text_model(model, compute).model.forward(ids);
    result.emplace_back("last_hidden_state", o.last_hidden_state);
    result.emplace_back("penultimate_hidden_state", o.hidden_states[o.hidden_states.size() - 2]);
    if (o.text_embeds) result.emplace_back("text_embeds", *o.text_embeds);
  }
  save_safetensors(out, result, {{"producer", "paradit eval " + which}});
  std::fprintf(stderr, "wrote %s\n", out.c_str());
  return 0;
}

int eval_encode_prompt(const Args& args) {
  std::vector<std::string> known = {"prompt", "negative-prompt", "max-sequence-length", "clip-skip", "out", "dtype",
                                    "device", "threads"};
  known.insert(known.end(), kTextOptions.begin(), kTextOptions.end());
  args.allow_only(known);
  require_cpu(args.get("device", "cpu"));
  set_num_threads(args.get_int("threads", 0));
  const auto encoder = Sd3PromptEncoder::load(text_encoder_files(args), parse_dtype(args.get("dtype", "f32")),
                                              joint_dim_for(args));
  PromptRequest r;
  r.prompt = {args.require("prompt")};
  r.max_sequence_length = args.get_int("max-sequence-length", 256);
  r.clip_skip = args.get_int("clip-skip", 0);
  const auto pos = encoder.encode(r);
  r.prompt = {args.get("negative-prompt", "")};
  r.clip_skip = 0;  // diffusers encodes the negative prompt without clip_skip
  const auto neg = encoder.encode(r);
  const std::string out = args.require("out");
  save_safetensors(out,
                   {{"prompt_embeds", pos.prompt_embeds},
                    {"pooled_prompt_embeds", pos.pooled},
                    {"negative_prompt_embeds", neg.prompt_embeds},
                    {"negative_pooled_prompt_embeds", neg.pooled}},
                   {{"producer", "paradit eval encode-prompt"}});
  std::fprintf(stderr, "wrote %s: prompt_embeds %s\n", out.c_str(), pos.prompt_embeds.describe().c_str());
  return 0;
}

}  // namespace

int run_eval_text(const std::string& component, int argc, char** argv) {
  if (component == "encode-prompt") return eval_encode_prompt(Args(argc, argv, 3, {"no-t5"}));
  return eval_encoder(component, Args(argc, argv, 3, {}));
}

}  // namespace paradit::cli
