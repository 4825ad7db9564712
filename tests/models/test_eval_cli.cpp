// `paradit eval transformer` end to end: the command's output file against diffusers, and
// the one-line, exit-code-2 failures for bad inputs.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/checkpoint.h"
#include "support/compare.h"
#include "support/fixture.h"

namespace paradit {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string output;
};

Result run_cli(const std::string& args) {
  const std::string log = fs::temp_directory_path() / ("paradit_cli_" + std::to_string(::getpid()) + ".log");
  const std::string cmd = std::string(PARADIT_CLI) + " " + args + " >" + log + " 2>&1";
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  r.output = ss.str();
  fs::remove(log);
  return r;
}

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
  expect_user_error("eval transformer --model " + kModels + "sd35_large_like --in " + in + " --out " + out +
                        " --device cuda",
                    "CUDA");
  expect_user_error("eval transformer --model " + kModels + "sd35_large_like --in " + in + " --out " + out +
                        " --dtype f16",
                    "--dtype");
  expect_user_error("eval vae --model x --in y --out z", "unknown component");
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace paradit
