// Real multi-rank runs: `mpirun --oversubscribe` starts the paradit CLI on the tiny models for
// every config of the parallel issue. The transformer output is compared with diffusers' (the
// fixture) and with the single-rank run; the whole pipeline's image with the single-rank image.
// Then the failure modes: a wrong mesh or config, a dying rank and a hanging one must end every
// rank with a clear message, never hang.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/png.h"
#include "io/safetensors.h"
#include "support/compare.h"
#include "support/fixture.h"
#include "support/run_command.h"

namespace paradit {
namespace {

namespace fs = std::filesystem;
using test::run_command;

const std::string kModels = std::string(PARADIT_FIXTURES_DIR) + "/models/";
const std::string kTiny = std::string(PARADIT_FIXTURES_DIR) + "/tiny-sd35";

// One thread per rank: up to 16 ranks share the 2 cores of CI.
std::string mpirun(int ranks, const std::string& extra_env = "") {
  std::string cmd = std::string(MPIEXEC) + " --oversubscribe -np " + std::to_string(ranks) +
                    " -x OMP_NUM_THREADS=1 -x PARADIT_COMM_TIMEOUT_S=120";
  if (::getuid() == 0) cmd += " --allow-run-as-root";
  if (!extra_env.empty()) cmd += " -x " + extra_env;
  return cmd + " " + PARADIT_CLI;
}

std::string temp(const std::string& name) {
  return fs::temp_directory_path() / ("paradit_par_" + std::to_string(::getpid()) + "_" + name);
}

// The largest per-channel difference between two images of one size (256 when sizes differ).
int max_level_difference(const RgbImage& a, const RgbImage& b) {
  if (a.width != b.width || a.height != b.height || a.pixels.size() != b.pixels.size()) return 256;
  int worst = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) worst = std::max(worst, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  return worst;
}

struct Case {
  const char* name;
  const char* mesh;
  const char* parallel;
  int ulysses = 1;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }  // readable ctest names

int ranks(const Case& c) {
  const std::string m = c.mesh;
  return std::stoi(m.substr(0, m.find('x'))) * std::stoi(m.substr(m.find('x') + 1));
}

std::string flags(const Case& c) {
  return std::string(" --mesh ") + c.mesh + " --parallel '" + c.parallel + "' --ulysses " + std::to_string(c.ulysses);
}

// The table, plus USP (ring and Ulysses together) and Ulysses beside tp.
const std::vector<Case> kCases = {
    {"one_rank", "1x1", "((1,0),(1,0),(1,0))"},
    {"cfg2", "1x2", "((2,1),(1,0),(1,0))"},
    {"sp2_ring", "1x2", "((1,0),(2,1),(1,0))"},
    {"sp2_ulysses", "1x2", "((1,0),(2,1),(1,0))", 2},
    {"tp2", "1x2", "((1,0),(1,0),(2,1))"},
    {"sp2_tp2", "2x2", "((1,0),(2,0),(2,1))"},
    {"seed_2x4", "2x4", "((2,1),(2,0),(2,1))"},
    {"seed_2x4_swapped", "2x4", "((2,1),(2,1),(2,0))"},
    {"sp4_tp4", "4x4", "((1,0),(4,0),(4,1))"},
    {"tp3_padded_heads", "1x3", "((1,0),(1,0),(3,1))"},
    {"sp8_short_sequence", "1x8", "((1,0),(8,1),(1,0))"},
    {"usp_ring2_ulysses2", "1x4", "((1,0),(4,1),(1,0))", 2},
    {"ulysses2_tp2", "2x2", "((1,0),(2,0),(2,1))", 2},
};

class TransformerParallel : public ::testing::TestWithParam<Case> {};

// 60 image tokens (12x20 latents), batch 2 (CFG's halves), 21 prompt tokens, 4 heads: sp8
// leaves the last rank 4 real tokens of 8, tp3 pads the heads to 6, and the MMDiT-X model
// adds the image-only attention.
TEST_P(TransformerParallel, MatchesDiffusersAndOneRank) {
  const Case& c = GetParam();
  for (const std::string model : {"sd35_large_like", "sd35_medium_like"}) {
    // The inputs diffusers ran on, renamed as `eval transformer` reads them.
    const Checkpoint io = Checkpoint::open(kModels + model + "_io.safetensors");
    const std::string in = temp(std::string(c.name) + model + "_in.safetensors");
    save_safetensors(in, {{"hidden_states", io.get("in.hidden_states")},
                          {"encoder_hidden_states", io.get("in.encoder_hidden_states")},
                          {"pooled_projections", io.get("in.pooled_projections")},
                          {"timestep", io.get("in.timestep")}});
    const std::string single = temp(std::string(c.name) + model + "_single.safetensors");
    const std::string out = temp(std::string(c.name) + model + ".safetensors");
    const auto one = run_command(std::string(PARADIT_CLI) + " eval transformer --model " + kModels + model + " --in " +
                                 in + " --out " + single);
    ASSERT_EQ(one.code, 0) << one.output;
    const auto run = run_command(mpirun(ranks(c)) + " eval transformer --model " + kModels + model + " --in " + in +
                                 " --out " + out + flags(c) + " --timings");
    ASSERT_EQ(run.code, 0) << run.output;
    std::printf("%s", run.output.c_str());
    const Tensor got = Checkpoint::open(out).get("sample");
    const Tensor reference = io.get("out.sample");
    EXPECT_TRUE(test::close_enough(std::string(c.name) + " " + model + " vs diffusers", got, reference));
    EXPECT_TRUE(test::close_enough(std::string(c.name) + " " + model + " vs one rank", got,
                                   Checkpoint::open(single).get("sample"), 0.99999, 1e-5));
    fs::remove(out);
    fs::remove(single);
    fs::remove(in);
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, TransformerParallel, ::testing::ValuesIn(kCases),
                         [](const auto& p) { return std::string(p.param.name); });

class PipelineParallel : public ::testing::TestWithParam<Case> {
 protected:
  // 112x48 pixels: 21 image tokens, which no sp factor above 1 divides.
  static std::string generate_args() {
    return " generate --model " + kTiny + " --prompt 'a lighthouse at dusk' --negative-prompt 'blurry' --width 112 " +
           "--height 48 --steps 3 --guidance 4.5 --seed 7 --quiet --threads 1";
  }
  static void SetUpTestSuite() {
    reference_ = temp("pipeline_single.png");
    const auto r = run_command(std::string(PARADIT_CLI) + generate_args() + " --dtype f32 -o " + reference_);
    ASSERT_EQ(r.code, 0) << r.output;
  }
  static void TearDownTestSuite() { fs::remove(reference_); }
  static std::string reference_;
};
std::string PipelineParallel::reference_;

TEST_P(PipelineParallel, ImageMatchesOneRank) {
  const Case& c = GetParam();
  const std::string out = temp(std::string(c.name) + ".png");
  const auto run = run_command(mpirun(ranks(c)) + generate_args() + " --dtype f32 -o " + out + flags(c) + " --timings");
  ASSERT_EQ(run.code, 0) << run.output;
  const int worst = max_level_difference(read_png(out), read_png(reference_));
  std::printf("%s: image max difference %d levels\n", c.name, worst);
  EXPECT_LE(worst, 1);
  if (ranks(c) > 1) {
    EXPECT_NE(run.output.find("comm "), std::string::npos) << "--timings prints the collectives: " << run.output;
  }
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Configs, PipelineParallel, ::testing::ValuesIn(kCases),
                         [](const auto& p) { return std::string(p.param.name); });

// FLUX.1 under every config of the SD3 suite (kCases) against one rank, with true CFG so the
// cfg axis has its two halves: 160x96 is 60 image tokens (6x10, as the SD3 transformer cases),
// which sp 8 leaves 4 real tokens of 8 on its last rank; the tiny model's 4 heads pad to 6
// under tp 3.
class FluxParallel : public ::testing::TestWithParam<Case> {
 protected:
  static std::string generate_args() {
    return " generate --model " + std::string(PARADIT_FIXTURES_DIR) + "/tiny-flux" +
           " --prompt 'a red circle on a blue background' --negative-prompt 'a green square'" +
           " --true-cfg 2 --width 160 --height 96 --steps 2 --seed 7 --max-sequence-length 32" +
           " --dtype f32 --quiet --threads 1";
  }
  static void SetUpTestSuite() {
    reference_ = temp("flux_single.png");
    const auto r = run_command(std::string(PARADIT_CLI) + generate_args() + " -o " + reference_);
    ASSERT_EQ(r.code, 0) << r.output;
  }
  static void TearDownTestSuite() { fs::remove(reference_); }
  static std::string reference_;
};
std::string FluxParallel::reference_;

TEST_P(FluxParallel, ImageMatchesOneRank) {
  const Case& c = GetParam();
  const std::string out = temp(std::string("flux_") + c.name + ".png");
  const auto run = run_command(mpirun(ranks(c)) + generate_args() + " -o " + out + flags(c) + " --timings");
  ASSERT_EQ(run.code, 0) << run.output;
  const int worst = max_level_difference(read_png(out), read_png(reference_));
  std::printf("FLUX %s: image max difference %d levels\n", c.name, worst);
  EXPECT_LE(worst, 1);
  if (ranks(c) > 1) {
    EXPECT_NE(run.output.find("comm "), std::string::npos) << run.output;
  }
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Configs, FluxParallel, ::testing::ValuesIn(kCases),
                         [](const auto& p) { return std::string(p.param.name); });

// --parallel auto plans FLUX (one sample per step, so never cfg) and gives the one-rank image; a
// cfg split given by hand without true CFG is refused per request.
TEST(FluxParallelAuto, AutoAndRefusals) {
  const std::string model = std::string(PARADIT_FIXTURES_DIR) + "/tiny-flux";
  const std::string args = " generate --model " + model + " --prompt x --width 64 --height 48 --steps 1" +
                           " --max-sequence-length 16 --dtype f32 --quiet --threads 1";
  const std::string single = temp("flux_auto_single.png"), out = temp("flux_auto.png");
  auto r = run_command(std::string(PARADIT_CLI) + args + " -o " + single);
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_command(mpirun(2) + args + " -o " + out + " --mesh 1x2 --timings");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("(auto)"), std::string::npos) << r.output;
  EXPECT_LE(max_level_difference(read_png(out), read_png(single)), 1);
  r = run_command(mpirun(2) + args + " -o " + out + " --mesh 1x2 --parallel '((2,1),(1,0),(1,0))'");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("gives true CFG its own submesh"), std::string::npos) << r.output;
  // 64x48 is 12 image tokens: over sp 4 x tp 4 (4 rows per sp shard) the last sp shard, and over
  // sp 8 x tp 2 the last two, hold padding only (they once failed on their rotary rows and hung
  // the other ranks).
  for (const auto& [mesh, tuple] : {std::pair<const char*, const char*>{"4x4", "((1,0),(4,0),(4,1))"},
                                     std::pair<const char*, const char*>{"2x8", "((1,0),(8,1),(2,0))"}}) {
    r = run_command(mpirun(16) + args + " -o " + out + " --mesh " + mesh + " --parallel '" + tuple + "'");
    ASSERT_EQ(r.code, 0) << tuple << ": " << r.output;
    EXPECT_LE(max_level_difference(read_png(out), read_png(single)), 1) << tuple;
  }
  fs::remove(single);
  fs::remove(out);
}

// The tiled VAE decode with its tiles spread over 2, 3 and 4 ranks (240x160 pixels: 5x3 tiles
// of 64 with the tiny VAE) against the single-rank tiled image. The latents come from an sp
// run, whose last bits may differ, so the bar is 1 level; a misplaced tile would be far off.
TEST(VaeParallel, TiledDecodeAcrossRanksEqualsOneRank) {
  const std::string args = " generate --model " + kTiny + " --prompt 'tiles' --width 240 --height 160 --steps 1 " +
                           "--seed 3 --no-t5 --quiet --threads 1 --dtype f32 --vae-tiling";
  const std::string single = temp("vae_single.png");
  auto r = run_command(std::string(PARADIT_CLI) + args + " -o " + single);
  ASSERT_EQ(r.code, 0) << r.output;
  const RgbImage want = read_png(single);
  for (int n : {2, 3, 4}) {
    const std::string out = temp("vae_" + std::to_string(n) + ".png");
    r = run_command(mpirun(n) + args + " -o " + out + " --mesh 1x" + std::to_string(n) + " --parallel '((1,0),(" +
                    std::to_string(n) + ",1),(1,0))'");
    ASSERT_EQ(r.code, 0) << r.output;
    const int worst = max_level_difference(read_png(out), want);
    std::printf("tiled VAE over %d ranks: max difference %d levels\n", n, worst);
    EXPECT_LE(worst, 1) << n << " ranks";
    fs::remove(out);
  }
  fs::remove(single);
}

// T5 tensor-parallel over 2, 3 (4 heads padded to 6, d_ff 96 split 32/32/32) and 4 ranks,
// against transformers' T5EncoderModel.
TEST(T5Parallel, MatchesTransformers) {
  const Checkpoint io = Checkpoint::open(std::string(PARADIT_FIXTURES_DIR) + "/pipeline/text_io.safetensors");
  const std::string in = temp("t5_in.safetensors"), out = temp("t5_out.safetensors");
  save_safetensors(in, {{"input_ids", io.get("in.t5.input_ids")}});
  for (int tp : {2, 3, 4}) {
    const auto r = run_command(mpirun(tp) + " eval t5 --model " + kTiny + "/text_encoder_3 --in " + in + " --out " +
                               out + " --mesh 1x" + std::to_string(tp) + " --parallel '((1,0),(1,0),(" +
                               std::to_string(tp) + ",1))'");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_TRUE(test::close_enough("t5 tp" + std::to_string(tp) + " vs transformers",
                                   Checkpoint::open(out).get("last_hidden_state"), io.get("out.t5.last_hidden_state")));
  }
  fs::remove(in);
  fs::remove(out);
}

// ---- failures: a message from rank 0, a non-zero exit on every rank, and no hang ----

std::string eval_args() {
  return " eval transformer --model " + kModels + "sd35_large_like --in " + kModels +
         "sd35_large_like_eval_in.safetensors --out " + temp("fail.safetensors");
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST(ParallelErrors, MeshThatDoesNotMatchTheWorld) {
  const auto r = run_command(mpirun(2) + eval_args() + " --mesh 2x2");
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(count(r.output, "--mesh 2x2 has 4 ranks but 2 were launched"), 1) << r.output;
}

TEST(ParallelErrors, ConfigThatDoesNotFitTheMesh) {
  const auto r = run_command(mpirun(2) + eval_args() + " --mesh 1x2 --parallel '((2,1),(2,1),(1,0))'");
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(count(r.output, "multiply to 4 but the axis has 2 ranks"), 1) << r.output;
}

TEST(ParallelErrors, MalformedConfig) {
  const auto r = run_command(mpirun(2) + eval_args() + " --mesh 1x2 --parallel '((1,0),(2,1)'");
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(count(r.output, "paradit: error: --parallel"), 1) << r.output;
}

TEST(ParallelErrors, SeveralRanksWithoutAMesh) {
  const auto r = run_command(mpirun(2) + eval_args());
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(count(r.output, "launched with 2 ranks but no --mesh"), 1) << r.output;
}

TEST(ParallelErrors, MeshWithoutMpirun) {
  const auto r = run_command(std::string(PARADIT_CLI) + eval_args() + " --mesh 1x2");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("start it with mpirun -np 2"), std::string::npos) << r.output;
}

TEST(ParallelErrors, BatchThatDoesNotSplitOverCfg) {
  // The pipeline without guidance has one branch: a cfg factor of 2 is refused up front.
  const auto r = run_command(mpirun(2) + " generate --model " + kTiny +
                             " --prompt x --width 64 --height 64 --steps 1 --guidance 1 --mesh 1x2 --parallel "
                             "'((2,1),(1,0),(1,0))' -o " + temp("nocfg.png"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("turns classifier-free guidance off"), std::string::npos) << r.output;
}

TEST(ParallelErrors, DyingRankEndsTheJob) {
  const auto r = run_command("timeout 120 " + mpirun(4, "PARADIT_FAULT=exit:2") + eval_args() +
                             " --mesh 2x2 --parallel '((1,0),(2,0),(2,1))'");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.code, 124) << "timed out instead of ending: " << r.output;
  EXPECT_NE(r.output.find("exited"), std::string::npos) << r.output;
}

TEST(ParallelErrors, HangingRankTimesOut) {
  const auto r = run_command("timeout 120 " + mpirun(2, "PARADIT_FAULT=hang:1") + eval_args() +
                             " --mesh 1x2 --parallel '((1,0),(1,0),(2,1))' --comm-timeout 3");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.code, 124) << "timed out instead of ending: " << r.output;
  EXPECT_NE(r.output.find("waited more than 3 s for its peers"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace paradit
