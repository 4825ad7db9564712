// The mesh and the seed's parallel tuple: parsing, every validation rule, where each rank
// sits, and what `--parallel auto` picks.
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <tuple>

#include "core/error.h"
#include "parallel/auto_config.h"
#include "parallel/mesh.h"

namespace paradit {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Mesh, Parses) {
  EXPECT_EQ(parse_mesh("2x4").rows, 2);
  EXPECT_EQ(parse_mesh("2x4").cols, 4);
  EXPECT_EQ(parse_mesh(" 4 X 8 ").size(), 32);
  EXPECT_EQ(parse_mesh("1,3").cols, 3);
  for (const char* bad : {"", "2", "2x", "x4", "2x4x1", "0x4", "-1x2", "2x4 junk", "axb", "99999999x1"})
    EXPECT_NE(error_of([&] { parse_mesh(bad); }).find("--mesh"), std::string::npos) << bad;
}

TEST(ParallelConfig, ParsesTheSeedTuples) {
  const ParallelConfig c = parse_parallel_config("((2,1),(2,0),(2,1))");
  EXPECT_EQ(c.cfg.factor, 2);
  EXPECT_EQ(c.cfg.axis, 1);
  EXPECT_EQ(c.sp.factor, 2);
  EXPECT_EQ(c.sp.axis, 0);
  EXPECT_EQ(c.tp.factor, 2);
  EXPECT_EQ(c.tp.axis, 1);
  EXPECT_EQ(c.str(), "((2,1),(2,0),(2,1))");
  EXPECT_EQ(parse_parallel_config(" ( (2, 1), (4, 0), (4, 1) ) ").str(), "((2,1),(4,0),(4,1))");
  for (const char* bad : {"", "auto2", "((2,1),(2,0))", "((2,1),(2,0),(2,1)", "((2,1),(2,0),(2,1)))", "((a,1),(2,0),(2,1))",
                          "[(2,1),(2,0),(2,1)]", "((2;1),(2,0),(2,1))"})
    EXPECT_NE(error_of([&] { parse_parallel_config(bad); }).find("--parallel"), std::string::npos) << bad;
}

TEST(ParallelConfig, ValidationNamesTheRule) {
  const Mesh m24{2, 4};
  EXPECT_EQ(error_of([&] { validate(parse_parallel_config("((2,1),(2,0),(2,1))"), m24); }), "");
  EXPECT_EQ(error_of([&] { validate(parse_parallel_config("((2,1),(2,1),(2,0))"), m24); }), "");
  EXPECT_EQ(error_of([&] { validate(parse_parallel_config("((2,1),(4,0),(4,1))"), Mesh{4, 8}); }), "");
  EXPECT_NE(error_of([&] { validate(parse_parallel_config("((2,1),(3,0),(2,1))"), m24); }).find("does not divide"),
            std::string::npos);
  EXPECT_NE(error_of([&] { validate(parse_parallel_config("((2,1),(1,0),(2,1))"), m24); }).find("multiply to"),
            std::string::npos);
  EXPECT_NE(error_of([&] { validate(parse_parallel_config("((2,2),(2,0),(2,1))"), m24); }).find("axis must be 0 or 1"),
            std::string::npos);
  EXPECT_NE(error_of([&] { validate(parse_parallel_config("((0,1),(2,0),(2,1))"), m24); }).find("at least 1"),
            std::string::npos);
  EXPECT_NE(error_of([&] { validate(parse_parallel_config("((4,1),(2,0),(1,1))"), m24); }).find("two CFG branches"),
            std::string::npos);
  ParallelConfig u = parse_parallel_config("((1,0),(4,1),(1,0))");
  u.ulysses = 3;
  EXPECT_NE(error_of([&] { validate(u, Mesh{1, 4}); }).find("Ulysses degree"), std::string::npos);
}

TEST(ParallelConfig, RankCoordinatesCoverEveryCombinationOnce) {
  struct Case {
    Mesh mesh;
    const char* config;
  };
  for (const Case& k : {Case{{2, 4}, "((2,1),(2,0),(2,1))"}, Case{{2, 4}, "((2,1),(2,1),(2,0))"},
                        Case{{4, 8}, "((2,1),(4,0),(4,1))"}, Case{{4, 4}, "((1,0),(4,0),(4,1))"},
                        Case{{1, 8}, "((2,1),(2,1),(2,1))"}}) {
    const ParallelConfig c = parse_parallel_config(k.config);
    validate(c, k.mesh);
    std::set<std::tuple<int, int, int>> seen;
    for (int r = 0; r < k.mesh.size(); ++r) {
      const RankCoords rc = rank_coords(c, k.mesh, r);
      EXPECT_LT(rc.cfg, c.cfg.factor);
      EXPECT_LT(rc.sp, c.sp.factor);
      EXPECT_LT(rc.tp, c.tp.factor);
      seen.insert({rc.cfg, rc.sp, rc.tp});
    }
    EXPECT_EQ(static_cast<int>(seen.size()), k.mesh.size()) << k.config;
  }
  // The seed's 2x4 example: cfg along the columns gives two 2x2 submeshes (columns 0-1, 2-3),
  // sp runs down the rows and tp across the columns inside each.
  const ParallelConfig c = parse_parallel_config("((2,1),(2,0),(2,1))");
  const Mesh m{2, 4};
  EXPECT_EQ(rank_coords(c, m, 0).cfg, 0);
  EXPECT_EQ(rank_coords(c, m, 2).cfg, 1);
  EXPECT_EQ(rank_coords(c, m, 1).tp, 1);
  EXPECT_EQ(rank_coords(c, m, 4).sp, 1);
  EXPECT_EQ(rank_coords(c, m, 7).cfg, 1);
  EXPECT_EQ(rank_coords(c, m, 7).sp, 1);
  EXPECT_EQ(rank_coords(c, m, 7).tp, 1);
}

// SD3.5 Large at 1024x1024 with CFG, on the seed's hardware: auto must give the seed's presets.
TEST(AutoConfig, PicksTheSeedPresets) {
  const StepShape large;  // defaults: SD3.5 Large, 1024x1024, 333 prompt tokens, batch 2
  const DeviceProfile wormhole = device_profile("wormhole");
  EXPECT_EQ(choose_config({2, 4}, large, wormhole).str(), "((2,1),(2,0),(2,1))");
  EXPECT_EQ(choose_config({4, 8}, large, wormhole).str(), "((2,1),(4,0),(4,1))");
  // One rank: nothing to split.
  EXPECT_EQ(choose_config({1, 1}, large, wormhole).str(), "((1,0),(1,0),(1,0))");
  // 16 GB of bf16 weights don't fit a 12 GB chip: every fitting plan shards them (tp >= 2).
  for (const auto& p : rank_configs({2, 4}, large, wormhole))
    if (p.fits) {
      EXPECT_GE(p.config.tp.factor, 2) << p.config.str();
    }
}

TEST(AutoConfig, CostsMoveTheRightWay) {
  const StepShape s;
  const DeviceProfile h100 = device_profile("h100");
  const auto one = estimate(parse_parallel_config("((1,0),(1,0),(1,0))"), s, h100);
  const auto tp2 = estimate(parse_parallel_config("((1,0),(1,0),(2,1))"), s, h100);
  const auto sp2 = estimate(parse_parallel_config("((1,0),(2,1),(1,0))"), s, h100);
  EXPECT_EQ(one.comm_bytes, 0);
  EXPECT_LT(tp2.compute_s, one.compute_s);
  EXPECT_LT(tp2.memory_bytes, one.memory_bytes);
  EXPECT_GT(tp2.comm_bytes, sp2.comm_bytes);  // tp moves activations, sp only K/V
  EXPECT_GT(sp2.memory_bytes, tp2.memory_bytes);
  EXPECT_NE(error_of([] { device_profile("tpu"); }).find("unknown device profile"), std::string::npos);
}

}  // namespace
}  // namespace paradit
