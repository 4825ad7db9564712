#include "support/compare.h"

#include <cmath>
#include <cstdio>

namespace paradit::test {

Closeness compare(const Tensor& actual, const Tensor& expected) {
  Closeness c;
  c.shapes_match = actual.shape() == expected.shape();
  if (!c.shapes_match) return c;
  const auto a = actual.to_f32_vector();
  const auto e = expected.to_f32_vector();
  const double n = static_cast<double>(a.size());
  double ma = 0, me = 0, max_ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ma += a[i];
    me += e[i];
  }
  ma /= n;
  me /= n;
  double cov = 0, va = 0, ve = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double da = a[i] - ma, de = e[i] - me;
    cov += da * de;
    va += da * da;
    ve += de * de;
    const double diff = std::fabs(static_cast<double>(a[i]) - e[i]);
    c.max_abs = std::isnan(diff) ? INFINITY : std::fmax(c.max_abs, diff);
    max_ref = std::fmax(max_ref, std::fabs(e[i]));
  }
  c.pcc = (va == 0 && ve == 0) ? (c.max_abs == 0 ? 1.0 : 0.0) : cov / std::sqrt(va * ve);
  if (std::isnan(c.pcc)) c.pcc = 0;
  c.rel = max_ref > 0 ? c.max_abs / max_ref : c.max_abs;
  return c;
}

::testing::AssertionResult close_enough(const std::string& what, const Tensor& actual, const Tensor& expected,
                                        double min_pcc, double max_rel) {
  const Closeness c = compare(actual, expected);
  if (!c.shapes_match)
    return ::testing::AssertionFailure() << what << ": shape " << actual.describe() << " vs expected "
                                         << expected.describe();
  std::printf("  [compare] %-36s pcc=%.8f max_abs=%.3e rel=%.3e\n", what.c_str(), c.pcc, c.max_abs, c.rel);
  if (c.pcc >= min_pcc && c.rel <= max_rel) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": pcc " << c.pcc << " (need >= " << min_pcc << "), rel "
                                       << c.rel << " (need <= " << max_rel << "), max_abs " << c.max_abs;
}

}  // namespace paradit::test
