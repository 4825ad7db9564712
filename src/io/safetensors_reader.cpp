#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_file.h"
#include "io/safetensors.h"

namespace paradit {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit
// Deeper than a valid header could be ({"name": {"shape": [..]}}) fails before parsing.
constexpr int kMaxJsonDepth = 3;

uint64_t read_u64_le(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

TensorRecord parse_entry(const std::string& name, const json& entry, const std::string& label) {
  const std::string where = str_cat(label, ": tensor '", name, "': ");
  PD_CHECK(entry.is_object(), where, "header entry is not an object");
  PD_CHECK(entry.contains("dtype") && entry["dtype"].is_string(), where, "missing or non-string dtype");
  PD_CHECK(entry.contains("shape") && entry["shape"].is_array(), where, "missing or non-array shape");
  PD_CHECK(entry.contains("data_offsets") && entry["data_offsets"].is_array() && entry["data_offsets"].size() == 2,
           where, "data_offsets must be an array of two integers");
  TensorRecord r;
  r.name = name;
  const std::string dtype = entry["dtype"].get<std::string>();
  PD_CHECK(dtype_from_name(dtype, &r.dtype), where, "unknown dtype '", dtype, "'");
  uint64_t numel = 1;
  for (const auto& d : entry["shape"]) {
    PD_CHECK(d.is_number_unsigned(), where, "shape entries must be non-negative integers");
    const uint64_t v = d.get<uint64_t>();
    PD_CHECK(v <= (uint64_t{1} << 62) && !__builtin_mul_overflow(numel, v, &numel), where, "shape overflows");
    r.shape.push_back(static_cast<int64_t>(v));
  }
  const auto& offsets = entry["data_offsets"];
  PD_CHECK(offsets[0].is_number_unsigned() && offsets[1].is_number_unsigned(), where,
           "data_offsets must be non-negative integers");
  r.begin = offsets[0].get<uint64_t>();
  r.end = offsets[1].get<uint64_t>();
  PD_CHECK(r.begin <= r.end, where, "data_offsets [", r.begin, ", ", r.end, "] are reversed");
  uint64_t nbytes = 0;
  PD_CHECK(!__builtin_mul_overflow(numel, dtype_size(r.dtype), &nbytes), where, "byte size overflows");
  PD_CHECK(nbytes == r.end - r.begin, where, "shape ", shape_str(r.shape), " of ", dtype, " needs ", nbytes,
           " bytes but data_offsets span ", r.end - r.begin);
  return r;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const char* bytes, size_t size, const std::string& label) {
  PD_CHECK(size >= 8, label, ": file is ", size, " bytes, too short for a safetensors header");
  const uint64_t header_len = read_u64_le(bytes);
  PD_CHECK(header_len <= kMaxHeaderBytes, label, ": header length ", header_len, " exceeds the 100 MB limit");
  PD_CHECK(header_len <= size - 8, label, ": header length ", header_len, " runs past the end of the file (",
           size, " bytes); the file is truncated or not safetensors");
  const char* text = bytes + 8;
  PD_CHECK(header_len >= 2 && text[0] == '{', label, ": header is not a JSON object");
  PD_CHECK(json_depth_within(std::string_view(text, header_len), kMaxJsonDepth), label, ": header JSON is nested too deeply");
  const json root = json::parse(text, text + header_len, nullptr, /*allow_exceptions=*/false);
  PD_CHECK(!root.is_discarded(), label, ": header is not valid JSON");
  PD_CHECK(root.is_object(), label, ": header is not a JSON object");

  SafetensorsHeader header;
  header.data_start = 8 + header_len;
  for (const auto& [name, entry] : root.items()) {
    if (name == "__metadata__") {
      PD_CHECK(entry.is_object(), label, ": __metadata__ is not an object");
      for (const auto& [key, value] : entry.items()) {
        PD_CHECK(value.is_string(), label, ": __metadata__ value for '", key, "' is not a string");
        header.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    header.tensors.push_back(parse_entry(name, entry, label));
  }
  std::sort(header.tensors.begin(), header.tensors.end(), [](const TensorRecord& a, const TensorRecord& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const uint64_t data_size = size - header.data_start;
  uint64_t expected = 0;
  for (const auto& r : header.tensors) {
    PD_CHECK(r.end <= data_size, label, ": tensor '", r.name, "': data_offsets [", r.begin, ", ", r.end,
             "] exceed the data section of ", data_size, " bytes; the file is truncated");
    PD_CHECK(r.begin >= expected, label, ": tensor '", r.name, "': data_offsets [", r.begin, ", ", r.end,
             "] overlap the previous tensor");
    PD_CHECK(r.begin == expected, label, ": tensor '", r.name, "': gap in the data section before offset ",
             r.begin);
    expected = r.end;
  }
  PD_CHECK(expected == data_size, label, ": data section is ", data_size, " bytes but the tensors cover ", expected,
           "; the file has trailing bytes or is corrupt");
  return header;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto out = std::make_shared<SafetensorsFile>();
  out->file_ = MappedFile::open(path);
  out->header_ = parse_safetensors_header(out->file_->data(), out->file_->size(), path);
  for (size_t i = 0; i < out->header_.tensors.size(); ++i) out->index_[out->header_.tensors[i].name] = i;
  return out;
}

const TensorRecord& SafetensorsFile::record(const std::string& name) const {
  auto it = index_.find(name);
  PD_CHECK(it != index_.end(), path(), ": missing tensor '", name, "'");
  return header_.tensors[it->second];
}

Tensor SafetensorsFile::get(const std::string& name) const {
  const TensorRecord& r = record(name);
  const char* p = file_->data() + header_.data_start + r.begin;
  Tensor view = Tensor::borrow_file(r.shape, r.dtype, p, file_);
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(r.dtype) != 0) return view.clone();
  return view;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(header_.tensors.size());
  for (const auto& r : header_.tensors) out.push_back(r.name);
  return out;
}

}  // namespace paradit
