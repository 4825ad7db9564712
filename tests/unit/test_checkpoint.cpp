// Checkpoints spread over shards with a *.safetensors.index.json, or a directory of files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/checkpoint.h"

namespace paradit {
namespace {

namespace fs = std::filesystem;

std::string make_dir(const std::string& name) {
  const std::string d = fs::temp_directory_path() / ("paradit_ck_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string error_of(const std::string& path) {
  try {
    Checkpoint::open(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void write_index(const std::string& dir, const std::string& weight_map) {
  std::ofstream(dir + "/model.safetensors.index.json") << R"({"metadata":{},"weight_map":)" << weight_map << "}";
}

TEST(Checkpoint, ShardedThroughIndex) {
  const std::string dir = make_dir("sharded");
  save_safetensors(dir + "/model-00001-of-00002.safetensors", {{"a", Tensor::from_vector({2}, {1, 2})}});
  save_safetensors(dir + "/model-00002-of-00002.safetensors", {{"b", Tensor::from_vector({1}, {3})}});
  write_index(dir, R"({"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"})");
  for (const std::string& path : {dir, dir + "/model.safetensors.index.json"}) {
    const Checkpoint ck = Checkpoint::open(path);
    EXPECT_EQ(ck.names(), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(ck.get("b").item_f32(0), 3.f);
    EXPECT_EQ(ck.files().size(), 2u);
  }
}

TEST(Checkpoint, DirectoryWithoutIndex) {
  const std::string dir = make_dir("plain");
  save_safetensors(dir + "/diffusion_pytorch_model.safetensors", {{"w", Tensor::zeros({3})}});
  EXPECT_TRUE(Checkpoint::open(dir).has("w"));
}

TEST(Checkpoint, IndexNamingMissingShard) {
  const std::string dir = make_dir("missing_shard");
  save_safetensors(dir + "/one.safetensors", {{"a", Tensor::zeros({1})}});
  write_index(dir, R"({"a":"one.safetensors","b":"two.safetensors"})");
  const std::string msg = error_of(dir);
  EXPECT_NE(msg.find("two.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
}

TEST(Checkpoint, IndexNamingTensorAbsentFromShard) {
  const std::string dir = make_dir("absent_tensor");
  save_safetensors(dir + "/one.safetensors", {{"a", Tensor::zeros({1})}});
  write_index(dir, R"({"a":"one.safetensors","ghost":"one.safetensors"})");
  EXPECT_NE(error_of(dir).find("'ghost'"), std::string::npos);
}

TEST(Checkpoint, BadIndexAndUnsafePaths) {
  const std::string dir = make_dir("bad_index");
  std::ofstream(dir + "/model.safetensors.index.json") << "{not json";
  EXPECT_NE(error_of(dir).find("not valid JSON"), std::string::npos);
  write_index(dir, R"({"a":"../../etc/passwd"})");
  EXPECT_NE(error_of(dir).find("unsafe"), std::string::npos);
  write_index(dir, R"({"a":3})");
  EXPECT_NE(error_of(dir).find("'a'"), std::string::npos);
}

TEST(Checkpoint, DuplicateTensorAcrossFiles) {
  const std::string dir = make_dir("dupes");
  save_safetensors(dir + "/a.safetensors", {{"w", Tensor::zeros({1})}});
  save_safetensors(dir + "/b.safetensors", {{"w", Tensor::zeros({1})}});
  EXPECT_NE(error_of(dir).find("appears in both"), std::string::npos);
}

TEST(Checkpoint, MissingTensorAndPath) {
  const std::string dir = make_dir("missing");
  save_safetensors(dir + "/m.safetensors", {{"w", Tensor::zeros({1})}});
  const Checkpoint ck = Checkpoint::open(dir);
  EXPECT_THROW(ck.get("transformer_blocks.0.attn.to_q.weight"), Error);
  EXPECT_NE(error_of(dir + "/nothing").find("no such file"), std::string::npos);
  EXPECT_NE(error_of(make_dir("empty")).find("no .safetensors"), std::string::npos);
}

}  // namespace
}  // namespace paradit
