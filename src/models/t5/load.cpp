#include "models/t5/load.h"

#include "io/prefixed_weights.h"

namespace paradit {

LoadedT5 load_t5_encoder(const std::string& path, DType compute) {
  const auto weights = open_model_weights(path, "encoder.final_layer_norm.weight", "T5 encoder");
  const std::string json = config_json_in(path);
  const T5Config config = json.empty() ? T5Config::infer(*weights) : T5Config::from_json_file(json);
  return {T5Encoder::load({weights.get(), compute, std::nullopt}, config), json.empty()};
}

}  // namespace paradit
