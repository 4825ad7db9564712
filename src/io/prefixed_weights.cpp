#include "io/prefixed_weights.h"

#include <filesystem>

#include "core/error.h"
#include "io/checkpoint.h"

namespace paradit {

std::optional<std::string> find_prefix(const WeightSource& source, const std::string& suffix) {
  std::optional<std::string> found;
  for (const auto& name : source.names()) {
    if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string prefix = name.substr(0, name.size() - suffix.size());
    if (!prefix.empty() && prefix.back() != '.') continue;
    if (found && *found != prefix) return std::nullopt;  // ambiguous
    found = prefix;
  }
  return found;
}

std::shared_ptr<const WeightSource> open_model_weights(const std::string& path, const std::string& probe,
                                                       const char* what) {
  auto ck = std::make_shared<Checkpoint>(Checkpoint::open(path));
  const auto prefix = find_prefix(*ck, probe);
  PD_CHECK(prefix.has_value(), path, ": not a ", what, " checkpoint (no unique '...", probe, "')");
  if (prefix->empty()) return ck;
  return std::make_shared<PrefixedWeights>(ck, *prefix);
}

std::string config_json_in(const std::string& path) {
  std::error_code ec;
  const auto p = std::filesystem::path(path) / "config.json";
  return std::filesystem::is_directory(path, ec) && std::filesystem::exists(p, ec) ? p.string() : "";
}

}  // namespace paradit
