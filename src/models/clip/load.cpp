#include "models/clip/load.h"

#include "io/prefixed_weights.h"

namespace paradit {

LoadedClip load_clip_text_model(const std::string& path, DType compute, Device device) {
  const auto weights = open_model_weights(path, "text_model.embeddings.token_embedding.weight", "CLIP text encoder");
  const std::string json = config_json_in(path);
  const ClipTextConfig config = json.empty() ? ClipTextConfig::infer(*weights) : ClipTextConfig::from_json_file(json);
  LoadContext ctx{weights.get(), compute, std::nullopt};
  ctx.device = device;
  return {ClipTextModel::load(ctx, config), json.empty()};
}

}  // namespace paradit
