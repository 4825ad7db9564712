#include "models/mmdit/weights.h"

#include <filesystem>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/layouts/sd3_original.h"

namespace paradit {
namespace fs = std::filesystem;

MMDiTWeights open_mmdit_weights(const std::string& path) {
  std::error_code ec;
  std::string where = path;
  if (fs::is_directory(where, ec) && fs::is_directory(fs::path(where) / "transformer", ec))
    where = (fs::path(where) / "transformer").string();  // a pipeline folder
  auto checkpoint = std::make_shared<Checkpoint>(Checkpoint::open(where));
  MMDiTWeights w;
  if (auto prefix = Sd3OriginalLayout::detect(*checkpoint)) {
    w.source = std::make_shared<Sd3OriginalLayout>(checkpoint, *prefix);
    w.layout = "original single file";
  } else {
    PD_CHECK(checkpoint->has("pos_embed.proj.weight"), where,
             ": not an SD3 transformer checkpoint (no pos_embed.proj.weight, no joint_blocks)");
    w.source = checkpoint;
    w.layout = "diffusers";
  }
  const fs::path config_json = fs::path(where) / "config.json";
  if (fs::is_directory(where, ec) && fs::exists(config_json, ec)) {
    w.config = MMDiTConfig::from_json_file(config_json.string());
  } else {
    w.config = MMDiTConfig::infer(*w.source);
    w.config_inferred = true;
  }
  return w;
}

}  // namespace paradit
