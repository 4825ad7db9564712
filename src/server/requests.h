// Turning the JSON of the three APIs (OpenAI images, AUTOMATIC1111 txt2img, native jobs) into
// generation requests, checking every field: its type, its range, sizes that are multiples of
// 16 within the model's limits. A bad field raises BadRequest naming it; unknown fields are
// ignored.
#pragma once

#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "paradit/paradit.h"

namespace paradit::server {

class BadRequest : public std::runtime_error {
 public:
  BadRequest(std::string field, const std::string& message)
      : std::runtime_error(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

struct Limits {
  int max_size = 1024;        // the model's largest side in pixels
  int size_multiple = 16;
  int max_steps = 200;
  int max_batch = 4;
  size_t max_prompt_chars = 4000;
  int default_size = 1024;
};

// One request per image (n / batch_size of them, seeds seed, seed + 1, ...).
std::vector<api::Request> parse_openai(const nlohmann::json& body, const Limits& limits);
std::vector<api::Request> parse_a1111(const nlohmann::json& body, const Limits& limits);
api::Request parse_job(const nlohmann::json& body, const Limits& limits);

// Parses a body as a JSON object, or throws BadRequest("body", ...).
nlohmann::json parse_body(const std::string& body);

}  // namespace paradit::server
