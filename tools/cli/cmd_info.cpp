// `paradit info --model PATH`: what a checkpoint holds (files, tensors, dtypes, bytes),
// after full header validation, and which models it carries with their configs.
#include <cstdio>
#include <map>

#include "args.h"
#include "commands.h"
#include "core/error.h"
#include "io/checkpoint.h"
#include "io/layouts/vae_original.h"
#include "io/prefixed_weights.h"
#include "models/clip/clip_text_model.h"
#include "models/flux/weights.h"
#include "models/mmdit/weights.h"
#include "models/t5/t5_encoder.h"
#include "models/vae/config.h"

namespace paradit::cli {

int run_info(int argc, char** argv) {
  const Args args(argc, argv, 2, {"tensors"});
  args.allow_only({"model", "tensors"});
  const Checkpoint ck = Checkpoint::open(args.require("model"));
  std::map<std::string, std::pair<int64_t, uint64_t>> by_dtype;  // dtype -> (count, bytes)
  uint64_t total = 0;
  for (const auto& name : ck.names()) {
    const TensorRecord& r = ck.record(name);
    auto& [count, bytes] = by_dtype[dtype_name(r.dtype)];
    ++count;
    bytes += r.end - r.begin;
    total += r.end - r.begin;
  }
  std::printf("checkpoint: %s\n", ck.path().c_str());
  std::printf("files: %zu\n", ck.files().size());
  for (const auto& f : ck.files()) std::printf("  %s (%zu tensors)\n", f->path().c_str(), f->names().size());
  std::printf("tensors: %zu, %.3f MB\n", ck.names().size(), static_cast<double>(total) / 1e6);
  for (const auto& [dtype, stats] : by_dtype)
    std::printf("  %-8s %6lld tensors %12.3f MB\n", dtype.c_str(), static_cast<long long>(stats.first),
                static_cast<double>(stats.second) / 1e6);
  // Which models it holds, and the config each would run with (found or inferred).
  const std::string path = args.require("model");
  const std::string json = config_json_in(path);
  bool any = false;
  try {
    const auto mmdit = open_mmdit_weights(path);
    std::printf("model: SD3 MMDiT, %s layout, config %s\n%s\n", mmdit.layout.c_str(),
                mmdit.config_inferred ? "inferred from tensor shapes" : "from config.json", mmdit.config.describe().c_str());
    any = true;
  } catch (const Error&) {
  }
  if (is_flux_transformer(path)) {
    // A FLUX.1 transformer: its config from config.json, else from the shapes (an error, with the
    // reason, where they cannot give it).
    try {
      const auto flux = open_flux_weights(path);
      std::printf("model: FLUX.1 transformer, %s layout, config %s\n%s\n", flux.layout.c_str(),
                  flux.config_inferred ? "inferred from tensor shapes" : "from config.json",
                  flux.config.describe().c_str());
    } catch (const Error& e) {
      std::printf("model: FLUX.1 transformer (config: %s)\n", e.what());
    }
    any = true;
  }
  const auto source = std::make_shared<Checkpoint>(ck);
  try {
    if (const auto prefix = find_prefix(ck, "text_model.embeddings.token_embedding.weight")) {
      const PrefixedWeights w(source, *prefix);
      const auto c = json.empty() ? ClipTextConfig::infer(w) : ClipTextConfig::from_json_file(json);
      std::printf("model: CLIP text encoder under '%s', config %s\n%s\n", prefix->c_str(),
                  json.empty() ? "inferred" : "from config.json", c.describe().c_str());
      any = true;
    }
    if (const auto prefix = find_prefix(ck, "encoder.final_layer_norm.weight")) {
      const PrefixedWeights w(source, *prefix);
      const auto c = json.empty() ? T5Config::infer(w) : T5Config::from_json_file(json);
      std::printf("model: T5 encoder under '%s', config %s\n%s\n", prefix->c_str(),
                  json.empty() ? "inferred" : "from config.json", c.describe().c_str());
      any = true;
    }
    if (const auto prefix = VaeOriginalLayout::detect(ck)) {
      const VaeOriginalLayout w(source, *prefix);
      const auto c = VaeConfig::infer(w);
      std::printf("model: VAE (original layout) under '%s', %zu blocks of up to %lld channels, %lld latent channels\n",
                  prefix->c_str(), c.block_out_channels.size(), static_cast<long long>(c.block_out_channels.back()),
                  static_cast<long long>(c.latent_channels));
      any = true;
    } else if (ck.has("decoder.conv_in.weight")) {
      const auto c = json.empty() ? VaeConfig::infer(ck) : VaeConfig::from_json_file(json);
      std::printf("model: VAE, %zu blocks of up to %lld channels, %lld latent channels\n", c.block_out_channels.size(),
                  static_cast<long long>(c.block_out_channels.back()), static_cast<long long>(c.latent_channels));
      any = true;
    }
  } catch (const Error& e) {
    std::printf("model: recognised, but its config cannot be worked out: %s\n", e.what());
    any = true;
  }
  if (!any) std::printf("model: none that paradit recognises\n");
  if (args.has("tensors"))
    for (const auto& name : ck.names()) {
      const TensorRecord& r = ck.record(name);
      std::printf("  %-60s %-8s %s\n", name.c_str(), dtype_name(r.dtype), shape_str(r.shape).c_str());
    }
  return 0;
}

}  // namespace paradit::cli
