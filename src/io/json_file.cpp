#include "io/json_file.h"

#include <fstream>
#include <iterator>

#include "core/error.h"
#include "io/mapped_file.h"

namespace paradit {

bool json_depth_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

void json_type_error(const std::string& path, const std::exception& e) {
  throw Error(path + ": a value has the wrong JSON type or is missing (" + e.what() + ")");
}

nlohmann::json read_json_file(const std::string& path, bool any_type) {
  const std::string text = read_regular_file(path);
  PD_CHECK(json_depth_within(text, kMaxJsonFileDepth), path, ": JSON nested deeper than ", kMaxJsonFileDepth,
           " levels");
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  PD_CHECK(!j.is_discarded() && (any_type || j.is_object()), path, ": not valid JSON");
  return j;
}

}  // namespace paradit
