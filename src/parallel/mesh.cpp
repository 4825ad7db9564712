#include "parallel/mesh.h"

#include <cctype>
#include <vector>

#include "core/error.h"

namespace paradit {

std::string Mesh::str() const { return std::to_string(rows) + "x" + std::to_string(cols); }

namespace {

// Reads a non-negative decimal integer at `pos`, or fails naming `what`.
int read_int(const std::string& s, size_t& pos, const std::string& what) {
  size_t start = pos;
  while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
  PD_CHECK(pos > start && pos - start <= 6, what, ": expected a number at position ", start, " in '", s, "'");
  return std::stoi(s.substr(start, pos - start));
}

std::string strip_spaces(const std::string& s) {
  std::string out;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  return out;
}

}  // namespace

Mesh parse_mesh(const std::string& text) {
  const std::string s = strip_spaces(text);
  const std::string what = "--mesh '" + text + "' (want RxC, for example 2x4)";
  size_t pos = 0;
  Mesh m;
  m.rows = read_int(s, pos, what);
  PD_CHECK(pos < s.size() && (s[pos] == 'x' || s[pos] == 'X' || s[pos] == ','), what, ": missing 'x'");
  ++pos;
  m.cols = read_int(s, pos, what);
  PD_CHECK(pos == s.size(), what, ": unexpected '", s.substr(pos), "'");
  PD_CHECK(m.rows >= 1 && m.cols >= 1, what, ": both sizes must be at least 1");
  PD_CHECK(static_cast<int64_t>(m.rows) * m.cols <= 65536, what, ": more than 65536 ranks");
  return m;
}

std::string ParallelConfig::str() const {
  auto pair = [](const Axis& a) { return "(" + std::to_string(a.factor) + "," + std::to_string(a.axis) + ")"; };
  std::string s = "(" + pair(cfg) + "," + pair(sp) + "," + pair(tp) + ")";
  if (ulysses > 1) s += " ulysses=" + std::to_string(ulysses);
  return s;
}

ParallelConfig parse_parallel_config(const std::string& text) {
  const std::string s = strip_spaces(text);
  const std::string what =
      "--parallel '" + text + "' (want ((cfg_factor,cfg_axis),(sp_factor,sp_axis),(tp_factor,tp_axis)))";
  size_t pos = 0;
  auto expect = [&](char c) {
    PD_CHECK(pos < s.size() && s[pos] == c, what, ": expected '", c, "' at position ", pos);
    ++pos;
  };
  ParallelConfig config;
  ParallelConfig::Axis* axes[3] = {&config.cfg, &config.sp, &config.tp};
  expect('(');
  for (int i = 0; i < 3; ++i) {
    if (i) expect(',');
    expect('(');
    axes[i]->factor = read_int(s, pos, what);
    expect(',');
    axes[i]->axis = read_int(s, pos, what);
    expect(')');
  }
  expect(')');
  PD_CHECK(pos == s.size(), what, ": unexpected '", s.substr(pos), "' after the tuple");
  return config;
}

void validate(const ParallelConfig& c, const Mesh& mesh) {
  const char* names[3] = {"cfg", "sp", "tp"};
  const ParallelConfig::Axis* axes[3] = {&c.cfg, &c.sp, &c.tp};
  int product[2] = {1, 1};
  for (int i = 0; i < 3; ++i) {
    const auto& a = *axes[i];
    PD_CHECK(a.factor >= 1, "parallel config ", c.str(), ": ", names[i], " factor must be at least 1");
    PD_CHECK(a.axis == 0 || a.axis == 1, "parallel config ", c.str(), ": ", names[i], " axis must be 0 or 1, got ",
             a.axis);
    PD_CHECK(mesh.axis_size(a.axis) % a.factor == 0, "parallel config ", c.str(), ": ", names[i], " factor ", a.factor,
             " does not divide mesh axis ", a.axis, " of size ", mesh.axis_size(a.axis), " (mesh ", mesh.str(), ")");
    product[a.axis] *= a.factor;
  }
  PD_CHECK(c.cfg.factor <= 2, "parallel config ", c.str(), ": cfg factor ", c.cfg.factor,
           " but there are only two CFG branches (use 1 or 2)");
  for (int axis = 0; axis < 2; ++axis)
    PD_CHECK(product[axis] == mesh.axis_size(axis), "parallel config ", c.str(), ": the factors on mesh axis ", axis,
             " multiply to ", product[axis], " but the axis has ", mesh.axis_size(axis), " ranks (mesh ", mesh.str(),
             "; cfg*sp*tp must equal the world size ", mesh.size(), ")");
  PD_CHECK(c.ulysses >= 1 && c.sp.factor % c.ulysses == 0, "parallel config ", c.str(), ": the Ulysses degree ",
           c.ulysses, " must divide the sp factor ", c.sp.factor);
}

RankCoords rank_coords(const ParallelConfig& c, const Mesh& mesh, int rank) {
  const int coord[2] = {rank / mesh.cols, rank % mesh.cols};
  // On each axis the factors nest cfg (outer), sp, tp (inner): peel the inner ones first.
  int rest[2] = {coord[0], coord[1]};
  RankCoords r;
  r.tp = rest[c.tp.axis] % c.tp.factor;
  rest[c.tp.axis] /= c.tp.factor;
  r.sp = rest[c.sp.axis] % c.sp.factor;
  rest[c.sp.axis] /= c.sp.factor;
  r.cfg = rest[c.cfg.axis] % c.cfg.factor;
  r.ulysses = r.sp % c.ulysses;
  r.ring = r.sp / c.ulysses;
  return r;
}

}  // namespace paradit
