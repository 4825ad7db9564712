// libFuzzer target: a checkpoint's tensor names and shapes, one tensor per line
// ("name d0 d1 ..."), from which each model's config is inferred when a single file ships no
// config.json. Inference must give a validated config or a paradit::Error, never a division by
// zero, an overflow or a huge allocation. Only shapes are read, so the tensors share one buffer.
#include <cstddef>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>

#include "core/error.h"
#include "io/weight_source.h"
#include "models/clip/clip_text_model.h"
#include "models/mmdit/config.h"
#include "models/t5/t5_encoder.h"
#include "models/vae/config.h"

namespace {

class Shapes : public paradit::WeightSource {
 public:
  explicit Shapes(std::map<std::string, paradit::Shape> s) : shapes_(std::move(s)) {}
  bool has(const std::string& name) const override { return shapes_.count(name) != 0; }
  paradit::Tensor get(const std::string& name) const override {
    const auto it = shapes_.find(name);
    if (it == shapes_.end()) throw paradit::Error("no tensor " + name);
    static const float kNothing[1] = {0};
    return paradit::Tensor::borrow(it->second, paradit::DType::F32, kNothing, nullptr);
  }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : shapes_) out.push_back(k);
    return out;
  }
  std::string where(const std::string& name) const override { return "fuzz: tensor '" + name + "'"; }

 private:
  std::map<std::string, paradit::Shape> shapes_;
};

template <typename F>
void expect_config_or_error(F infer) {
  try {
    infer();
  } catch (const paradit::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::map<std::string, paradit::Shape> shapes;
  std::istringstream lines(std::string(reinterpret_cast<const char*>(data), size));
  std::string line;
  while (std::getline(lines, line) && shapes.size() < 4096) {
    std::istringstream fields(line);
    std::string name;
    if (!(fields >> name)) continue;
    paradit::Shape shape;
    long long d;
    while (shape.size() < 6 && fields >> d) shape.push_back(d);
    shapes[name] = shape;  // negative and zero sizes included: a hostile header can claim them
  }
  const Shapes w(std::move(shapes));
  expect_config_or_error([&] { paradit::MMDiTConfig::infer(w); });
  expect_config_or_error([&] { paradit::VaeConfig::infer(w); });
  expect_config_or_error([&] { paradit::ClipTextConfig::infer(w); });
  expect_config_or_error([&] { paradit::T5Config::infer(w); });
  return 0;
}
