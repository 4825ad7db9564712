#include "io/json_file.h"

#include <fstream>

#include "core/error.h"

namespace paradit {

nlohmann::json read_json_file(const std::string& path, bool any_type) {
  std::ifstream in(path);
  PD_CHECK(in.good(), path, ": cannot open");
  auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  PD_CHECK(!j.is_discarded() && (any_type || j.is_object()), path, ": not valid JSON");
  return j;
}

}  // namespace paradit
