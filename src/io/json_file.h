// Reading a JSON file (configs, shard indexes, tokenizer files), failing with one line that
// names the file when it is missing or not valid JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace paradit {

// The file's JSON; an object unless `any_type`.
nlohmann::json read_json_file(const std::string& path, bool any_type = false);

}  // namespace paradit
