// The parallel configs with every rank on the GPU (`mpirun -np N paradit ... --device cuda`):
// several ranks share the machine's GPU (the collectives then go through the host; with a GPU
// per rank they go through NCCL), and each run must equal the one-rank GPU run: the tiny
// transformers' output (and diffusers' fixture), the tiny SD3.5 and FLUX pipelines' images.
// Skips without a GPU, or without an MPI launcher (PARADIT_MPIEXEC names one; the device check
// carries Open MPI's).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cuda/gpu_test.h"
#include "io/checkpoint.h"
#include "io/png.h"
#include "io/safetensors.h"
#include "support/compare.h"
#include "support/run_command.h"

namespace paradit {
namespace {

namespace fs = std::filesystem;
using test::run_command;

const std::string kModels = std::string(PARADIT_FIXTURES_DIR) + "/models/";

// Where the device check unpacked them, or where this build put them.
std::string cli() {
  const char* env = std::getenv("PARADIT_CLI_PATH");
  return env && *env ? env : PARADIT_CLI;
}

std::string launcher() {
  const char* env = std::getenv("PARADIT_MPIEXEC");
  return env && *env ? env : MPIEXEC;
}

#define REQUIRE_GPU_AND_MPI()                                                              \
  do {                                                                                     \
    REQUIRE_GPU();                                                                         \
    if (!fs::exists(launcher())) GTEST_SKIP() << "no MPI launcher at " << launcher();      \
  } while (0)

std::string mpirun(int ranks) {
  std::string cmd = launcher() + " --oversubscribe -np " + std::to_string(ranks) +
                    " -x OMP_NUM_THREADS=2 -x PARADIT_COMM_TIMEOUT_S=120";
  if (::getuid() == 0) cmd += " --allow-run-as-root";
  return cmd + " " + cli();
}

std::string temp(const std::string& name) {
  return fs::temp_directory_path() / ("paradit_gpar_" + std::to_string(::getpid()) + "_" + name);
}

struct Case {
  const char* name;
  const char* mesh;
  const char* parallel;
  int ulysses = 1;
  int ranks = 2;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string flags(const Case& c) {
  return std::string(" --mesh ") + c.mesh + " --parallel '" + c.parallel + "' --ulysses " + std::to_string(c.ulysses);
}

// Each axis once, and sp beside tp (4 ranks on one GPU).
const std::vector<Case> kCases = {
    {"cfg2", "1x2", "((2,1),(1,0),(1,0))"},
    {"sp2_ring", "1x2", "((1,0),(2,1),(1,0))"},
    {"sp2_ulysses", "1x2", "((1,0),(2,1),(1,0))", 2},
    {"tp2", "1x2", "((1,0),(1,0),(2,1))"},
    {"sp2_tp2", "2x2", "((1,0),(2,0),(2,1))", 1, 4},
};

int max_level_difference(const RgbImage& a, const RgbImage& b) {
  if (a.width != b.width || a.height != b.height || a.pixels.size() != b.pixels.size()) return 256;
  int worst = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) worst = std::max(worst, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  return worst;
}

class CudaParallel : public ::testing::TestWithParam<Case> {};

// The SD3.5-Large-like tiny transformer (60 image tokens, batch 2, 4 heads) in f32 on the GPU.
TEST_P(CudaParallel, TransformerMatchesOneRankAndDiffusers) {
  REQUIRE_GPU_AND_MPI();
  const Case& c = GetParam();
  const std::string model = "sd35_large_like";
  const Checkpoint io = Checkpoint::open(kModels + model + "_io.safetensors");
  const std::string in = temp(std::string(c.name) + "_in.safetensors");
  save_safetensors(in, {{"hidden_states", io.get("in.hidden_states")},
                        {"encoder_hidden_states", io.get("in.encoder_hidden_states")},
                        {"pooled_projections", io.get("in.pooled_projections")},
                        {"timestep", io.get("in.timestep")}});
  const std::string single = temp(std::string(c.name) + "_single.safetensors");
  const std::string out = temp(std::string(c.name) + "_out.safetensors");
  const std::string common = " eval transformer --device cuda --dtype f32 --model " + kModels + model + " --in " + in;
  const auto one = run_command(cli() + common + " --out " + single);
  ASSERT_EQ(one.code, 0) << one.output;
  const auto run = run_command(mpirun(c.ranks) + common + " --out " + out + flags(c) + " --timings");
  ASSERT_EQ(run.code, 0) << run.output;
  std::printf("%s", run.output.c_str());
  EXPECT_NE(run.output.find("GPU collectives"), std::string::npos) << run.output;
  const Tensor got = Checkpoint::open(out).get("sample");
  EXPECT_TRUE(test::close_enough(std::string(c.name) + " GPU vs diffusers", got, io.get("out.sample")));
  EXPECT_TRUE(test::close_enough(std::string(c.name) + " GPU vs one GPU rank", got,
                                 Checkpoint::open(single).get("sample"), 0.99999, 1e-4));
  fs::remove(out);
  fs::remove(single);
  fs::remove(in);
}

// The tiny pipelines end to end: SD3.5 with CFG, FLUX with true CFG (so cfg has two halves).
TEST_P(CudaParallel, PipelineImagesMatchOneRank) {
  REQUIRE_GPU_AND_MPI();
  const Case& c = GetParam();
  const std::string sd3 = " generate --device cuda --dtype f32 --model " + std::string(PARADIT_FIXTURES_DIR) +
                          "/tiny-sd35 --prompt 'a lighthouse at dusk' --negative-prompt 'blurry' --width 112" +
                          " --height 48 --steps 3 --guidance 4.5 --seed 7 --quiet";
  const std::string flux = " generate --device cuda --dtype f32 --model " + std::string(PARADIT_FIXTURES_DIR) +
                           "/tiny-flux --prompt 'a red circle on a blue background' --negative-prompt 'a green" +
                           " square' --true-cfg 2 --width 160 --height 96 --steps 2 --seed 7" +
                           " --max-sequence-length 32 --quiet";
  for (const auto& [label, args] : {std::pair<std::string, std::string>{"SD3.5", sd3}, {"FLUX", flux}}) {
    const std::string single = temp(std::string(c.name) + "_one.png"), out = temp(std::string(c.name) + ".png");
    const auto one = run_command(cli() + args + " -o " + single);
    ASSERT_EQ(one.code, 0) << one.output;
    const auto run = run_command(mpirun(c.ranks) + args + " -o " + out + flags(c));
    ASSERT_EQ(run.code, 0) << run.output;
    const int worst = max_level_difference(read_png(out), read_png(single));
    std::printf("  [image] %s %s on the GPU: %d levels from one GPU rank\n", label.c_str(), c.name, worst);
    EXPECT_LE(worst, 1);
    fs::remove(out);
    fs::remove(single);
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, CudaParallel, ::testing::ValuesIn(kCases),
                         [](const auto& p) { return std::string(p.param.name); });

// Forcing NCCL where ranks share a GPU fails cleanly (NCCL refuses two ranks on one device),
// on every rank, within the deadline.
TEST(CudaParallelErrors, NcclOnASharedGpuFailsCleanly) {
  REQUIRE_GPU_AND_MPI();
  const std::string model = "sd35_large_like";
  const Checkpoint io = Checkpoint::open(kModels + model + "_io.safetensors");
  const std::string in = temp("nccl_in.safetensors");
  save_safetensors(in, {{"hidden_states", io.get("in.hidden_states")},
                        {"encoder_hidden_states", io.get("in.encoder_hidden_states")},
                        {"pooled_projections", io.get("in.pooled_projections")},
                        {"timestep", io.get("in.timestep")}});
  const auto run = run_command("timeout 120 " + launcher() + " --oversubscribe -np 2 -x PARADIT_COMM=nccl" +
                               (::getuid() == 0 ? " --allow-run-as-root " : " ") + cli() +
                               " eval transformer --device cuda --model " + kModels + model + " --in " + in +
                               " --out " + temp("nccl_out.safetensors") + " --mesh 1x2 --parallel '((1,0),(1,0),(2,1))'");
  std::printf("%s", run.output.c_str());
  EXPECT_NE(run.code, 0);
  EXPECT_NE(run.code, 124) << "hung";
  EXPECT_NE(run.output.find("NCCL"), std::string::npos) << run.output;
  fs::remove(in);
}

}  // namespace
}  // namespace paradit
