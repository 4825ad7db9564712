#include "models/flux/weights.h"

#include <filesystem>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/layouts/flux_original.h"

namespace paradit {
namespace fs = std::filesystem;
namespace {

std::string transformer_dir(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec) && fs::is_directory(fs::path(path) / "transformer", ec))
    return (fs::path(path) / "transformer").string();  // a pipeline folder
  return path;
}

}  // namespace

bool is_flux_transformer(const std::string& path) {
  try {
    const Checkpoint checkpoint = Checkpoint::open(transformer_dir(path));
    return checkpoint.has("x_embedder.weight") || FluxOriginalLayout::detect(checkpoint).has_value();
  } catch (const Error&) {
    return false;
  }
}

FluxWeights open_flux_weights(const std::string& path, const std::string& config_json) {
  const std::string where = transformer_dir(path);
  auto checkpoint = std::make_shared<Checkpoint>(Checkpoint::open(where));
  FluxWeights w;
  if (auto prefix = FluxOriginalLayout::detect(*checkpoint)) {
    w.source = std::make_shared<FluxOriginalLayout>(checkpoint, *prefix);
    w.layout = "original single file";
  } else {
    PD_CHECK(checkpoint->has("x_embedder.weight"), where,
             ": not a FLUX transformer checkpoint (no x_embedder.weight, no double_blocks)");
    w.source = checkpoint;
    w.layout = "diffusers";
  }
  std::error_code ec;
  const fs::path own_config = fs::path(where) / "config.json";
  if (!config_json.empty()) {
    w.config = FluxConfig::from_json_file(config_json);
  } else if (fs::is_directory(where, ec) && fs::exists(own_config, ec)) {
    w.config = FluxConfig::from_json_file(own_config.string());
  } else {
    w.config = FluxConfig::infer(*w.source);
    w.config_inferred = true;
  }
  return w;
}

}  // namespace paradit
