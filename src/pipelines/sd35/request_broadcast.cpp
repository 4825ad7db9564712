#include "pipelines/sd35/request_broadcast.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace paradit {
namespace {

// The message: the request's fields as JSON, then the initial latents' f32 values if any.
std::string encode(const GenerateRequest& r) {
  nlohmann::json j = {{"prompt", r.prompt},
                      {"negative_prompt", r.negative_prompt},
                      {"prompt_2", r.prompt_2},
                      {"prompt_3", r.prompt_3},
                      {"width", r.width},
                      {"height", r.height},
                      {"steps", r.steps},
                      {"guidance", r.guidance},
                      {"shift", r.shift},
                      {"true_cfg", r.true_cfg},
                      {"seed", r.seed},
                      {"max_sequence_length", r.max_sequence_length},
                      {"clip_skip", r.clip_skip}};
  if (r.init_latents) j["init_latents_shape"] = r.init_latents->shape();
  std::string json = j.dump();
  std::string message(sizeof(uint64_t), '\0');
  const uint64_t n = json.size();
  std::memcpy(message.data(), &n, sizeof n);
  message += json;
  if (r.init_latents)
    message.append(static_cast<const char*>(r.init_latents->raw()), r.init_latents->nbytes());
  return message;
}

GenerateRequest decode(const std::string& message) {
  uint64_t n = 0;
  std::memcpy(&n, message.data(), sizeof n);
  const auto j = nlohmann::json::parse(message.substr(sizeof n, n));
  GenerateRequest r;
  r.prompt = j.at("prompt");
  r.negative_prompt = j.at("negative_prompt");
  r.prompt_2 = j.at("prompt_2");
  r.prompt_3 = j.at("prompt_3");
  r.width = j.at("width");
  r.height = j.at("height");
  r.steps = j.at("steps");
  r.guidance = j.at("guidance");
  r.shift = j.at("shift");
  r.true_cfg = j.at("true_cfg");
  r.seed = j.at("seed");
  r.max_sequence_length = j.at("max_sequence_length");
  r.clip_skip = j.at("clip_skip");
  if (j.contains("init_latents_shape")) {
    Tensor t = Tensor::empty(j.at("init_latents_shape").get<Shape>());
    PD_CHECK(message.size() == sizeof n + n + t.nbytes(), "internal: request message of the wrong size");
    std::memcpy(t.raw(), message.data() + sizeof n + n, t.nbytes());
    r.init_latents = t;
  }
  return r;
}

}  // namespace

void send_request(Communicator& world, const GenerateRequest* request) {
  const std::string message = request ? encode(*request) : std::string();
  Tensor size = Tensor::empty({1}, DType::I64);
  size.data<int64_t>()[0] = static_cast<int64_t>(message.size());
  world.broadcast(size, 0);
  if (message.empty()) return;
  Tensor bytes = Tensor::empty({static_cast<int64_t>(message.size())}, DType::U8);
  std::memcpy(bytes.raw(), message.data(), message.size());
  world.broadcast(bytes, 0);
}

std::optional<GenerateRequest> receive_request(Communicator& world) {
  Tensor size = Tensor::empty({1}, DType::I64);
  world.broadcast(size, 0, /*idle=*/true);
  const int64_t n = size.data<int64_t>()[0];
  if (n == 0) return std::nullopt;
  Tensor bytes = Tensor::empty({n}, DType::U8);
  world.broadcast(bytes, 0);
  return decode(std::string(static_cast<const char*>(bytes.raw()), static_cast<size_t>(n)));
}

bool agree_with_root(Communicator& world, bool flag) {
  if (world.size() == 1) return flag;
  Tensor value = Tensor::empty({1}, DType::U8);
  value.data<uint8_t>()[0] = flag ? 1 : 0;
  world.broadcast(value, 0);
  return value.data<uint8_t>()[0] != 0;
}

}  // namespace paradit
