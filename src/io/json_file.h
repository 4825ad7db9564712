// Reading a JSON file (configs, shard indexes, tokenizer files), failing with one line that
// names the file when it is missing or not valid JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace paradit {

// The file's JSON; an object unless `any_type`. Nested deeper than kMaxJsonFileDepth fails
// before parsing.
constexpr int kMaxJsonFileDepth = 32;
nlohmann::json read_json_file(const std::string& path, bool any_type = false);

// False when `text` opens more than `max_depth` nested objects or arrays at any point (strings
// are skipped): checked before parsing, so a hostile document of a million '[' costs one pass and
// no recursion.
bool json_depth_within(std::string_view text, int max_depth);

// A value of the wrong JSON type met while reading `path` (nlohmann's type_error or
// out_of_range): rethrown as paradit::Error naming the file. Readers end in
//   catch (const nlohmann::json::exception& e) { json_type_error(path, e); }
[[noreturn]] void json_type_error(const std::string& path, const std::exception& e);

}  // namespace paradit
