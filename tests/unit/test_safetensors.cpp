// The safetensors reader and writer: round trips, and every way a file can be broken. Each
// broken file must give a paradit::Error whose one line names the file (and the tensor when
// there is one), never a crash.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/safetensors.h"

namespace paradit {
namespace {

namespace fs = std::filesystem;

std::string temp_dir() {
  static const std::string dir = [] {
    std::string d = fs::temp_directory_path() / ("paradit_st_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

// Writes a file from a header text and a data section; `declared_len` overrides the length.
std::string write_raw(const std::string& name, const std::string& header, const std::string& data,
                      int64_t declared_len = -1) {
  const std::string path = temp_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary);
  uint64_t n = declared_len >= 0 ? static_cast<uint64_t>(declared_len) : header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header << data;
  return path;
}

// Expects open() to throw an Error whose message contains each of `needles`.
void expect_open_error(const std::string& path, std::initializer_list<std::string> needles) {
  try {
    SafetensorsFile::open(path);
    ADD_FAILURE() << "opening " << path << " should fail";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << "names the file: " << msg;
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' in: " << msg;
  }
}

TEST(Safetensors, RoundTripEveryDtype) {
  NamedTensors tensors;
  const std::vector<float> values = {0.f, 1.f, -2.f, 0.5f, 448.f, -0.125f};
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::F8_E4M3, DType::F8_E5M2})
    tensors.emplace_back(dtype_name(t), Tensor::from_vector({2, 3}, values).to(t));
  tensors.emplace_back("empty", Tensor::zeros({0, 4}));
  const std::string path = temp_dir() + "/round.safetensors";
  save_safetensors(path, tensors, {{"format", "pt"}});
  EXPECT_FALSE(fs::exists(path + ".tmp." + std::to_string(::getpid())));
  auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  for (const auto& [name, t] : tensors) {
    const Tensor back = file->get(name);
    EXPECT_EQ(back.dtype(), t.dtype()) << name;
    EXPECT_EQ(back.shape(), t.shape()) << name;
    EXPECT_EQ(back.to_f32_vector(), t.to_f32_vector()) << name;
  }
}

TEST(Safetensors, ViewsAreZeroCopy) {
  const std::string path = temp_dir() + "/view.safetensors";
  save_safetensors(path, {{"a", Tensor::zeros({1024})}});
  auto file = SafetensorsFile::open(path);
  const Tensor a = file->get("a");
  const Tensor again = file->get("a");
  EXPECT_EQ(a.raw(), again.raw());  // both point into the mapping
}

TEST(Safetensors, ReadsIntegerTensorsOfRealCheckpoints) {
  const std::string path = write_raw("ints.safetensors",
                                     R"({"position_ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})",
                                     std::string("\x01\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0", 16));
  auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->get("position_ids").data<int64_t>()[1], 2);
}

TEST(Safetensors, MisalignedDataIsCopied) {
  // A 3-byte header leaves f32 data at an odd offset; the reader must not hand out a
  // misaligned pointer.
  const std::string header = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  const float one = 1.f;
  const std::string path = write_raw("odd.safetensors", header, std::string(reinterpret_cast<const char*>(&one), 4));
  const Tensor x = SafetensorsFile::open(path)->get("x");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(x.raw()) % 4, 0u);
  EXPECT_EQ(x.item_f32(0), 1.f);
}

TEST(Safetensors, TruncatedFile) {
  const std::string path = temp_dir() + "/full.safetensors";
  save_safetensors(path, {{"w", Tensor::zeros({64})}});
  const auto size = fs::file_size(path);
  fs::resize_file(path, size - 10);
  expect_open_error(path, {"'w'", "truncated"});
  expect_open_error(write_raw("short.safetensors", "", "", 0), {"header"});
  const std::string tiny = temp_dir() + "/tiny.safetensors";
  std::ofstream(tiny) << "abc";
  expect_open_error(tiny, {"too short"});
}

TEST(Safetensors, HeaderLengthPastEnd) {
  expect_open_error(write_raw("len.safetensors", "{}", "", 1000), {"past the end"});
  expect_open_error(write_raw("huge.safetensors", "{}", "", int64_t{1} << 40), {"100 MB"});
}

TEST(Safetensors, CorruptHeader) {
  expect_open_error(write_raw("json.safetensors", R"({"a": {"dtype": "F32", )", ""), {"not valid JSON"});
  expect_open_error(write_raw("array.safetensors", "[1, 2]", ""), {"not a JSON object"});
  expect_open_error(write_raw("deep.safetensors", "{" + std::string(100000, '[') + "}", ""), {"nested"});
  expect_open_error(write_raw("noshape.safetensors", R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", "abcd"),
                    {"'a'", "shape"});
  expect_open_error(write_raw("negshape.safetensors", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})",
                              "abcd"),
                    {"'a'", "non-negative"});
  expect_open_error(write_raw("meta.safetensors", R"({"__metadata__":{"k":1}})", ""), {"__metadata__"});
}

TEST(Safetensors, UnknownDtype) {
  expect_open_error(write_raw("dtype.safetensors", R"({"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}})", "a"),
                    {"'a'", "unknown dtype 'F4'"});
}

TEST(Safetensors, SizeMismatch) {
  expect_open_error(write_raw("size.safetensors", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                              std::string(8, '\0')),
                    {"'a'", "needs 12 bytes"});
}

TEST(Safetensors, OffsetsOutOfRangeOverlappingOrGapped) {
  expect_open_error(write_raw("range.safetensors", R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})",
                              std::string(4, '\0')),
                    {"'a'", "exceed"});
  expect_open_error(write_raw("overlap.safetensors",
                              R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                              R"("b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                              std::string(6, '\0')),
                    {"'b'", "overlap"});
  expect_open_error(write_raw("gap.safetensors", R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                              std::string(6, '\0')),
                    {"'a'", "gap"});
  expect_open_error(write_raw("reversed.safetensors", R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})",
                              std::string(4, '\0')),
                    {"'a'", "reversed"});
  expect_open_error(write_raw("trailing.safetensors", R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})",
                              std::string(6, '\0')),
                    {"trailing"});
  expect_open_error(write_raw("overflow.safetensors",
                              R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}})", "abcd"),
                    {"'a'", "overflow"});
}

TEST(Safetensors, MissingTensorNamesIt) {
  const std::string path = temp_dir() + "/one.safetensors";
  save_safetensors(path, {{"present", Tensor::zeros({2})}});
  auto file = SafetensorsFile::open(path);
  try {
    file->get("absent");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'absent'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
}

TEST(Safetensors, MissingFileAndDirectory) {
  expect_open_error(temp_dir() + "/nope.safetensors", {"cannot open"});
  expect_open_error(temp_dir(), {"not a regular file"});
}

TEST(Safetensors, WriterRejectsDuplicatesAndLeavesNothingBehind) {
  const std::string path = temp_dir() + "/dup.safetensors";
  EXPECT_THROW(save_safetensors(path, {{"a", Tensor::zeros({1})}, {"a", Tensor::zeros({1})}}), Error);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_THROW(save_safetensors(temp_dir() + "/no/such/dir/x.safetensors", {{"a", Tensor::zeros({1})}}), Error);
}

}  // namespace
}  // namespace paradit
