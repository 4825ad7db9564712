#include "models/flux/weights.h"

#include <filesystem>

#include "core/error.h"
#include "io/checkpoint.h"

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
    return checkpoint.has("single_transformer_blocks.0.proj_mlp.weight") || checkpoint.has("x_embedder.weight");
  } catch (const Error&) {
    return false;
  }
}

FluxWeights open_flux_weights(const std::string& path) {
  const std::string where = transformer_dir(path);
  auto checkpoint = std::make_shared<Checkpoint>(Checkpoint::open(where));
  PD_CHECK(checkpoint->has("x_embedder.weight"), where,
           ": not a FLUX transformer checkpoint in the diffusers layout (no x_embedder.weight)");
  std::error_code ec;
  const fs::path config_json = fs::path(where) / "config.json";
  PD_CHECK(fs::is_directory(where, ec) && fs::exists(config_json, ec), where,
           ": a FLUX transformer needs its folder's config.json (single files come later)");
  FluxWeights w;
  w.source = checkpoint;
  w.config = FluxConfig::from_json_file(config_json.string());
  return w;
}

}  // namespace paradit
