#include "models/t5/load.h"

#include "io/prefixed_weights.h"

namespace paradit {

LoadedT5 load_t5_encoder(const std::string& path, DType compute, ParallelGroups* parallel, Device device) {
  const auto weights = open_model_weights(path, "encoder.final_layer_norm.weight", "T5 encoder");
  const std::string json = config_json_in(path);
  const T5Config config = json.empty() ? T5Config::infer(*weights) : T5Config::from_json_file(json);
  LoadContext ctx{weights.get(), compute, std::nullopt};
  ctx.device = device;
  ctx.parallel = parallel;
  return {T5Encoder::load(ctx, config), json.empty()};
}

}  // namespace paradit
