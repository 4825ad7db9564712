// `paradit eval transformer` end to end: the command's output file against diffusers, and
// the one-line, exit-code-2 failures for bad inputs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "support/compare.h"
#include "support/fixture.h"
#ifdef PARADIT_HAVE_CUDA
#include "backend/cuda/device.h"
#endif
#include "support/run_command.h"

namespace paradit {
namespace {

namespace fs = std::filesystem;

using Result = test::CommandResult;

Result run_cli(const std::string& args) { return test::run_command(std::string(PARADIT_CLI) + " " + args); }

const std::string kModels = std::string(PARADIT_FIXTURES_DIR) + "/models/";

TEST(EvalCli, TransformerMatchesDiffusers) {
  const std::string out = fs::temp_directory_path() / ("paradit_eval_" + std::to_string(::getpid()) + ".safetensors");
  for (const std::string& model : {kModels + "sd35_large_like", kModels + "sd35_large_like_single_file.safetensors"}) {
    const Result r = run_cli("eval transformer --model " + model + " --in " + kModels +
                             "sd35_large_like_eval_in.safetensors --out " + out);
    ASSERT_EQ(r.code, 0) << r.output;
    const Checkpoint result = Checkpoint::open(out);
    test::Fixture io("models/sd35_large_like_io");
    EXPECT_MATCHES("eval transformer " + fs::path(model).filename().string(), result.get("sample"),
                   io.f32("out.sample"));
  }
  const Result bf16 = run_cli("eval transformer --dtype bf16 --model " + kModels + "sd35_large_like --in " + kModels +
                              "sd35_large_like_eval_in.safetensors --out " + out);
  ASSERT_EQ(bf16.code, 0) << bf16.output;
  EXPECT_TRUE(test::close_enough("eval transformer bf16", Checkpoint::open(out).get("sample"),
                                 test::Fixture("models/sd35_large_like_io").f32("out.sample"), 0.999, 5e-2));
  fs::remove(out);
}

// FLUX.1: the model is recognised from its files; the inputs are named as diffusers' transformer
// takes them; dev needs guidance and schnell refuses it.
TEST(EvalCli, FluxTransformerMatchesDiffusers) {
  const std::string dir = fs::temp_directory_path() / ("paradit_evalflux_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const std::string v : {"flux_dev_like", "flux_schnell_like"}) {
    test::Fixture io("models/" + v + "_io");
    NamedTensors in;
    for (const char* name : {"hidden_states", "encoder_hidden_states", "pooled_projections", "timestep", "img_ids",
                             "txt_ids", "guidance"})
      if (io.checkpoint().has(std::string("in.") + name)) in.push_back({name, io.checkpoint().get(std::string("in.") + name)});
    save_safetensors(dir + "/in.safetensors", in);
    const Result r = run_cli("eval transformer --model " + kModels + v + " --in " + dir + "/in.safetensors --out " +
                             dir + "/out.safetensors");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_MATCHES("eval transformer " + v, Checkpoint::open(dir + "/out.safetensors").get("sample"),
                   io.f32("out.sample"));
  }
  // The dev inputs (with guidance) given to schnell, and the schnell inputs (without) to dev.
  test::Fixture dev("models/flux_dev_like_io");
  NamedTensors no_guidance;
  for (const char* name : {"hidden_states", "encoder_hidden_states", "pooled_projections", "timestep", "img_ids",
                           "txt_ids"})
    no_guidance.push_back({name, dev.checkpoint().get(std::string("in.") + name)});
  save_safetensors(dir + "/no_guidance.safetensors", no_guidance);
  Result r = run_cli("eval transformer --model " + kModels + "flux_dev_like --in " + dir +
                     "/no_guidance.safetensors --out " + dir + "/x.safetensors");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("missing input tensor 'guidance'"), std::string::npos) << r.output;
  no_guidance.push_back({"guidance", dev.checkpoint().get("in.guidance")});
  save_safetensors(dir + "/guidance.safetensors", no_guidance);
  r = run_cli("eval transformer --model " + kModels + "flux_schnell_like --in " + dir + "/guidance.safetensors --out " +
              dir + "/x.safetensors");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("no guidance embedding"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(EvalCli, TextEncodersAndPromptEncoding) {
  const std::string dir = fs::temp_directory_path() / ("paradit_evaltext_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  test::Fixture io("pipeline/text_io");
  const std::string pipeline = std::string(PARADIT_FIXTURES_DIR) + "/tiny-sd35";
  save_safetensors(dir + "/l.safetensors", {{"input_ids", io.checkpoint().get("in.clip_l.input_ids")}});
  save_safetensors(dir + "/t5.safetensors", {{"input_ids", io.checkpoint().get("in.t5.input_ids")}});
  Result r = run_cli("eval clip-l --model " + pipeline + "/text_encoder --in " + dir + "/l.safetensors --out " + dir +
                     "/l_out.safetensors");
  ASSERT_EQ(r.code, 0) << r.output;
  const Checkpoint l = Checkpoint::open(dir + "/l_out.safetensors");
  EXPECT_MATCHES("eval clip-l last_hidden_state", l.get("last_hidden_state"), io.f32("out.clip_l.last_hidden_state"));
  EXPECT_MATCHES("eval clip-l penultimate", l.get("penultimate_hidden_state"),
                 io.f32("out.clip_l.penultimate_hidden_state"));
  EXPECT_MATCHES("eval clip-l text_embeds", l.get("text_embeds"), io.f32("out.clip_l.text_embeds"));
  r = run_cli("eval t5 --model " + pipeline + "/text_encoder_3 --in " + dir + "/t5.safetensors --out " + dir +
              "/t5_out.safetensors");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_MATCHES("eval t5", Checkpoint::open(dir + "/t5_out.safetensors").get("last_hidden_state"),
                 io.f32("out.t5.last_hidden_state"));
  r = run_cli("eval encode-prompt --model " + pipeline + " --prompt 'a red fox in the snow, 35mm photo'" +
              " --negative-prompt 'blurry, low quality' --out " + dir + "/ep.safetensors");
  ASSERT_EQ(r.code, 0) << r.output;
  const Checkpoint ep = Checkpoint::open(dir + "/ep.safetensors");
  EXPECT_MATCHES("eval encode-prompt prompt_embeds", ep.get("prompt_embeds"), io.f32("out.prompt_embeds"));
  EXPECT_MATCHES("eval encode-prompt pooled", ep.get("pooled_prompt_embeds"), io.f32("out.pooled_prompt_embeds"));
  EXPECT_MATCHES("eval encode-prompt negative", ep.get("negative_prompt_embeds"), io.f32("out.negative_prompt_embeds"));
  EXPECT_MATCHES("eval encode-prompt negative pooled", ep.get("negative_pooled_prompt_embeds"),
                 io.f32("out.negative_pooled_prompt_embeds"));
  // tokenize prints what transformers gives for a corpus prompt (CLIP-G splits its "!" pad).
  const std::string prompt = "wow!!! really??? yes...";
  std::ifstream corpus(std::string(PARADIT_FIXTURES_DIR) + "/text/prompts.json");
  const auto prompts = nlohmann::json::parse(corpus).get<std::vector<std::string>>();
  const auto index = std::find(prompts.begin(), prompts.end(), prompt) - prompts.begin();
  ASSERT_LT(static_cast<size_t>(index), prompts.size());
  const Tensor want = Checkpoint::open(test::fixture_path("text/token_ids")).get("clip_g");
  const std::vector<int32_t> row(want.data<int32_t>() + index * 77, want.data<int32_t>() + (index + 1) * 77);
  r = run_cli("tokenize --model " + pipeline + " --text '" + prompt + "'");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["clip_g"].get<std::vector<int32_t>>(), row) << r.output;
  fs::remove_all(dir);
}

void expect_user_error(const std::string& args, const std::string& needle) {
  const Result r = run_cli(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << "one line: " << r.output;
}

TEST(EvalCli, BadInputsGiveOneLineAndExitTwo) {
  const std::string out = fs::temp_directory_path() / ("paradit_bad_" + std::to_string(::getpid()) + ".safetensors");
  const std::string in = kModels + "sd35_large_like_eval_in.safetensors";
  // The io fixture names its inputs "in.*", so 'hidden_states' is missing from it.
  expect_user_error("eval transformer --model " + kModels + "sd35_large_like --in " + kModels +
                        "sd35_large_like_io.safetensors --out " + out,
                    "missing input tensor 'hidden_states'");
  expect_user_error("eval transformer --model " + test::fixture_path("layers/linear") + " --in " + in + " --out " + out,
                    "not an SD3 transformer");
#ifdef PARADIT_HAVE_CUDA
  const bool gpu = cuda::device_count() > 0;
#else
  const bool gpu = false;
#endif
  if (!gpu) {  // without a usable GPU, --device cuda is one line and exit code 2 everywhere
    expect_user_error("eval transformer --model " + kModels + "sd35_large_like --in " + in + " --out " + out +
                          " --device cuda",
                      "CUDA");
    expect_user_error("generate --model " + std::string(PARADIT_FIXTURES_DIR) + "/tiny-sd35 --prompt x --device cuda",
                      "--device cuda");
    expect_user_error("bench transformer --config sd3.5-medium --random-weights --device cuda", "--device cuda");
  }
  expect_user_error("bench transformer --config sd3.5-medium --random-weights --graph", "--graph needs --device cuda");
  expect_user_error("bench transformer --config flux.1-dev --random-weights --graph", "--graph needs --device cuda");
  expect_user_error("bench transformer --config sd3.5-medium --random-weights --device gpu", "--device must be");
  expect_user_error("eval transformer --model " + kModels + "sd35_large_like --in " + in + " --out " + out +
                        " --dtype f16",
                    "--dtype");
  expect_user_error("eval vae --model x --in y --out z", "unknown component");
  expect_user_error("eval clip-l --model " + kModels + "sd35_large_like --in " + in + " --out " + out,
                    "missing input tensor 'input_ids'");
  expect_user_error("eval encode-prompt --model " + kModels + "sd35_large_like --prompt x --out " + out,
                    "no text encoders");
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace paradit
