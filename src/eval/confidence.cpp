#include "croma/eval/confidence.h"

#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <stdexcept>
#include <string>

namespace croma {

MeanInterval t_interval(const std::vector<double>& values, double level) {
  if (values.empty()) throw std::invalid_argument("t_interval: no values");
  if (!(level > 0 && level < 1)) throw std::invalid_argument("t_interval: level must be in (0, 1)");
  MeanInterval out;
  out.n = static_cast<std::int64_t>(values.size());
  double sum = 0;
  for (double v : values) sum += v;
  out.mean = sum / static_cast<double>(out.n);
  if (out.n < 2) return out;
  double sq = 0;
  for (double v : values) sq += (v - out.mean) * (v - out.mean);
  out.std = std::sqrt(sq / static_cast<double>(out.n - 1));
  const boost::math::students_t dist(static_cast<double>(out.n - 1));
  const double t = boost::math::quantile(dist, 1 - (1 - level) / 2);
  out.half_width = t * out.std / std::sqrt(static_cast<double>(out.n));
  return out;
}

std::vector<double> paired_differences(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) {
    throw std::invalid_argument("paired_differences: " + std::to_string(a.size()) + " against " +
                                std::to_string(b.size()) + " values (pairs must match one to one)");
  }
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return d;
}

}  // namespace croma
