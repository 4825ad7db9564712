#include "server/requests.h"

#include <chrono>
#include <cmath>
#include <utility>

#include "io/json_file.h"

namespace paradit::server {
namespace {

using json = nlohmann::json;

std::string get_string(const json& body, const char* field, const Limits& limits, bool required) {
  if (!body.contains(field) || body[field].is_null()) {
    if (required) throw BadRequest(field, std::string("'") + field + "' is required");
    return "";
  }
  if (!body[field].is_string()) throw BadRequest(field, std::string("'") + field + "' must be a string");
  std::string s = body[field].get<std::string>();
  if (s.size() > limits.max_prompt_chars)
    throw BadRequest(field, std::string("'") + field + "' is longer than " + std::to_string(limits.max_prompt_chars) +
                                " bytes");
  return s;
}

// An integer field in [lo, hi]; `fallback` when absent or null.
int64_t get_int(const json& body, const char* field, int64_t lo, int64_t hi, int64_t fallback) {
  if (!body.contains(field) || body[field].is_null()) return fallback;
  const json& v = body[field];
  if (!v.is_number_integer() && !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()))
    throw BadRequest(field, std::string("'") + field + "' must be an integer");
  const double d = v.get<double>();
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
    throw BadRequest(field, std::string("'") + field + "' must be between " + std::to_string(lo) + " and " +
                                std::to_string(hi));
  return v.is_number_integer() ? v.get<int64_t>() : static_cast<int64_t>(d);
}

double get_number(const json& body, const char* field, double lo, double hi, double fallback) {
  if (!body.contains(field) || body[field].is_null()) return fallback;
  if (!body[field].is_number()) throw BadRequest(field, std::string("'") + field + "' must be a number");
  const double d = body[field].get<double>();
  if (!std::isfinite(d) || d < lo || d > hi)
    throw BadRequest(field, std::string("'") + field + "' must be between " + std::to_string(lo) + " and " +
                                std::to_string(hi));
  return d;
}

// "WxH": two runs of 1 to 5 decimal digits, nothing else (no sign, space or leading zero), so
// nothing overflows on the way to the range check.
std::pair<int, int> parse_size(const std::string& size) {
  const auto x = size.find('x');
  auto side = [&](size_t from, size_t to) {
    const size_t n = to - from;
    bool ok = n >= 1 && n <= 5 && size[from] != '0';
    int v = 0;
    for (size_t i = from; ok && i < to; ++i) {
      ok = size[i] >= '0' && size[i] <= '9';
      v = v * 10 + (size[i] - '0');
    }
    if (!ok) throw BadRequest("size", "'size' must look like \"1024x1024\"");
    return v;
  };
  if (x == std::string::npos) throw BadRequest("size", "'size' must look like \"1024x1024\"");
  return {side(0, x), side(x + 1, size.size())};
}

void check_side(const char* field, int64_t v, const Limits& limits) {
  if (v % limits.size_multiple != 0)
    throw BadRequest(field, std::string("'") + field + "' must be a multiple of " + std::to_string(limits.size_multiple));
}

// seed: absent, null or -1 draws a random one, as A1111 does.
uint64_t get_seed(const json& body) {
  const int64_t s = get_int(body, "seed", -1, (int64_t{1} << 53), -1);
  if (s >= 0) return static_cast<uint64_t>(s);
  static std::mt19937_64 rng(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  return rng() & 0xffffffffu;
}

api::Request common(const json& body, const Limits& limits, const char* guidance_field) {
  api::Request r;
  r.prompt = get_string(body, "prompt", limits, true);
  r.negative_prompt = get_string(body, "negative_prompt", limits, false);
  r.steps = static_cast<int>(get_int(body, "steps", 1, limits.max_steps, 0));
  r.guidance = get_number(body, guidance_field, 0, 30, -1);
  r.seed = get_seed(body);
  return r;
}

std::vector<api::Request> replicate(api::Request r, int64_t n) {
  std::vector<api::Request> out;
  for (int64_t i = 0; i < n; ++i) {
    out.push_back(r);
    ++r.seed;
  }
  return out;
}

}  // namespace

// No request field nests: a body deeper than this is refused before the parser sees it.
constexpr int kMaxBodyDepth = 8;

json parse_body(const std::string& body) {
  if (!json_depth_within(body, kMaxBodyDepth))
    throw BadRequest("body", "the body nests deeper than " + std::to_string(kMaxBodyDepth) + " levels");
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw BadRequest("body", "the body is not valid JSON");
  if (!j.is_object()) throw BadRequest("body", "the body must be a JSON object");
  return j;
}

std::vector<api::Request> parse_openai(const json& body, const Limits& limits) {
  api::Request r = common(body, limits, "guidance");
  const std::string size = get_string(body, "size", limits, false);
  r.width = r.height = limits.default_size;
  if (!size.empty()) {
    const auto [w, h] = parse_size(size);
    if (w > limits.max_size || h > limits.max_size)
      throw BadRequest("size", "'size' exceeds the largest size of " + std::to_string(limits.max_size));
    check_side("size", w, limits);
    check_side("size", h, limits);
    r.width = w;
    r.height = h;
  }
  const std::string format = get_string(body, "response_format", limits, false);
  if (!format.empty() && format != "b64_json")
    throw BadRequest("response_format", "only 'b64_json' is supported (images are not stored behind URLs)");
  return replicate(r, get_int(body, "n", 1, limits.max_batch, 1));
}

std::vector<api::Request> parse_a1111(const json& body, const Limits& limits) {
  api::Request r = common(body, limits, "cfg_scale");
  // AUTOMATIC1111 defaults to 512, or the largest size when the model is smaller.
  const int a1111_default = std::min(512, limits.max_size);
  r.width = static_cast<int>(get_int(body, "width", limits.size_multiple, limits.max_size, a1111_default));
  r.height = static_cast<int>(get_int(body, "height", limits.size_multiple, limits.max_size, a1111_default));
  check_side("width", r.width, limits);
  check_side("height", r.height, limits);
  return replicate(r, get_int(body, "batch_size", 1, limits.max_batch, 1));
}

api::Request parse_job(const json& body, const Limits& limits) {
  api::Request r = common(body, limits, "guidance");
  r.width = static_cast<int>(get_int(body, "width", limits.size_multiple, limits.max_size, limits.default_size));
  r.height = static_cast<int>(get_int(body, "height", limits.size_multiple, limits.max_size, limits.default_size));
  check_side("width", r.width, limits);
  check_side("height", r.height, limits);
  return r;
}

}  // namespace paradit::server
