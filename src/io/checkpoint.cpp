#include "io/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"

namespace paradit {
namespace fs = std::filesystem;
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> files_in(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && ends_with(e.path().filename().string(), suffix)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Reads weight_map of a sharded index: tensor name -> shard file (relative to the index).
std::map<std::string, std::vector<std::string>> read_index(const std::string& index_path) {
  const auto root = read_json_file(index_path);
  PD_CHECK(root.contains("weight_map") && root["weight_map"].is_object(), index_path,
           ": shard index has no weight_map object");
  std::map<std::string, std::vector<std::string>> shards;
  for (const auto& [name, file] : root["weight_map"].items()) {
    PD_CHECK(file.is_string(), index_path, ": weight_map entry for '", name, "' is not a file name");
    const std::string rel = file.get<std::string>();
    PD_CHECK(!rel.empty() && rel.find("..") == std::string::npos && rel[0] != '/', index_path,
             ": weight_map names an unsafe shard path '", rel, "'");
    shards[rel].push_back(name);
  }
  return shards;
}

}  // namespace

void Checkpoint::add_file(const std::string& file, const std::vector<std::string>* expected_names) {
  auto st = SafetensorsFile::open(file);
  const size_t index = files_.size();
  files_.push_back(st);
  for (const auto& name : st->names()) {
    auto [it, inserted] = where_.emplace(name, index);
    PD_CHECK(inserted, path_, ": tensor '", name, "' appears in both ", files_[it->second]->path(), " and ", file);
  }
  if (expected_names)
    for (const auto& name : *expected_names)
      PD_CHECK(st->has(name), path_, ": the index puts tensor '", name, "' in ", file, " but that file lacks it");
}

Checkpoint Checkpoint::open(const std::string& path) {
  Checkpoint ck;
  ck.path_ = path;
  std::error_code ec;
  PD_CHECK(fs::exists(path, ec), path, ": no such file or directory");
  std::string index_path;
  if (fs::is_directory(path, ec)) {
    const auto indexes = files_in(path, ".safetensors.index.json");
    PD_CHECK(indexes.size() <= 1, path, ": more than one *.safetensors.index.json; pass the one to use");
    if (indexes.empty()) {
      const auto files = files_in(path, ".safetensors");
      PD_CHECK(!files.empty(), path, ": directory holds no .safetensors file");
      for (const auto& f : files) ck.add_file(f, nullptr);
      return ck;
    }
    index_path = indexes[0];
  } else if (ends_with(path, ".json")) {
    index_path = path;
  } else {
    ck.add_file(path, nullptr);
    return ck;
  }
  const std::string dir = fs::path(index_path).parent_path().string();
  for (const auto& [rel, names] : read_index(index_path)) {
    const std::string file = (fs::path(dir) / rel).string();
    PD_CHECK(fs::exists(file, ec), index_path, ": shard '", rel, "' named by the index is missing");
    ck.add_file(file, &names);
  }
  return ck;
}

const TensorRecord& Checkpoint::record(const std::string& name) const {
  auto it = where_.find(name);
  PD_CHECK(it != where_.end(), path_, ": missing tensor '", name, "'");
  return files_[it->second]->record(name);
}

Tensor Checkpoint::get(const std::string& name) const {
  auto it = where_.find(name);
  PD_CHECK(it != where_.end(), path_, ": missing tensor '", name, "'");
  return files_[it->second]->get(name);
}

const std::string& Checkpoint::file_of(const std::string& name) const {
  auto it = where_.find(name);
  PD_CHECK(it != where_.end(), path_, ": missing tensor '", name, "'");
  return files_[it->second]->path();
}

std::string Checkpoint::where(const std::string& name) const {
  auto it = where_.find(name);
  return it == where_.end() ? str_cat(path_, ": tensor '", name, "'")
                            : str_cat(files_[it->second]->path(), ": tensor '", name, "'");
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto& [name, index] : where_) out.push_back(name);
  return out;
}

}  // namespace paradit
