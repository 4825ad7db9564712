#include "support/fixture.h"

namespace paradit::test {

std::string fixture_path(const std::string& relative) {
  return std::string(PARADIT_FIXTURES_DIR) + "/" + relative + ".safetensors";
}

Fixture::Fixture(const std::string& relative) : checkpoint_(Checkpoint::open(fixture_path(relative))) {
  const auto& meta = checkpoint_.files().front()->metadata();
  auto it = meta.find("config");
  config_ = it == meta.end() ? nlohmann::json::object() : nlohmann::json::parse(it->second);
}

Tensor Fixture::f32(const std::string& name) const { return checkpoint_.get(name).to(DType::F32); }

}  // namespace paradit::test
