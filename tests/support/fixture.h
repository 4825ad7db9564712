// Access to the reference tensors under tests/fixtures (written by tools/fixtures).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "io/checkpoint.h"
#include "layers/module.h"

namespace paradit::test {

// tests/fixtures: the source tree's, or $PARADIT_FIXTURES_DIR where the tests run from another
// checkout (the device check runs binaries built elsewhere).
std::string fixtures_dir();
std::string fixture_path(const std::string& relative);  // "ops/linear" -> .../ops/linear.safetensors

class Fixture {
 public:
  explicit Fixture(const std::string& relative);
  Tensor f32(const std::string& name) const;  // any stored dtype, converted to f32
  const nlohmann::json& config() const { return config_; }
  const Checkpoint& checkpoint() const { return checkpoint_; }
  LoadContext context(DType compute = DType::F32) const { return LoadContext{&checkpoint_, compute, std::nullopt}; }

 private:
  Checkpoint checkpoint_;
  nlohmann::json config_;
};

}  // namespace paradit::test
