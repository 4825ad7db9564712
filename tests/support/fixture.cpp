#include "support/fixture.h"

#include <cstdlib>

namespace paradit::test {

std::string fixtures_dir() {
  const char* env = std::getenv("PARADIT_FIXTURES_DIR");
  return env && *env ? std::string(env) : std::string(PARADIT_FIXTURES_DIR);
}

std::string fixture_path(const std::string& relative) {
  return fixtures_dir() + "/" + relative + ".safetensors";
}

Fixture::Fixture(const std::string& relative) : checkpoint_(Checkpoint::open(fixture_path(relative))) {
  const auto& meta = checkpoint_.files().front()->metadata();
  auto it = meta.find("config");
  config_ = it == meta.end() ? nlohmann::json::object() : nlohmann::json::parse(it->second);
}

Tensor Fixture::f32(const std::string& name) const { return checkpoint_.get(name).to(DType::F32); }

}  // namespace paradit::test
