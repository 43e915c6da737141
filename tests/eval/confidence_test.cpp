// The 95 % interval against direct computations: a quantile of Student's t taken from a
// printed table, and the normal limit for large n.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "croma/eval/confidence.h"

namespace croma {
namespace {

TEST(Confidence, TenValuesUseTheTQuantileOfNineDegreesOfFreedom) {
  const std::vector<double> v = {0.2, 0.4, 0.4, 0.6, 0.8, 0.6, 0.2, 1.0, 0.6, 0.2};
  const auto ci = t_interval(v);
  double mean = 0;
  for (double x : v) mean += x / 10;
  double sq = 0;
  for (double x : v) sq += (x - mean) * (x - mean);
  const double s = std::sqrt(sq / 9);
  // t_{0.975, 9} = 2.262157 (standard table).
  EXPECT_EQ(ci.n, 10);
  EXPECT_NEAR(ci.mean, mean, 1e-12);
  EXPECT_NEAR(ci.std, s, 1e-12);
  EXPECT_NEAR(ci.half_width, 2.262157 * s / std::sqrt(10.0), 1e-6);
}

TEST(Confidence, ManyEpisodesApproachTheNormalInterval) {
  std::vector<double> v;
  for (int i = 0; i < 600; ++i) v.push_back((i % 5) / 4.0);  // 0, .25, .5, .75, 1
  const auto ci = t_interval(v);
  // t_{0.975, 599} = 1.963932 (scipy.stats.t.ppf); the normal 1.959964 would be 0.2 % narrower.
  EXPECT_NEAR(ci.half_width / (ci.std / std::sqrt(600.0)), 1.963932, 1e-5);
  EXPECT_NEAR(ci.mean, 0.5, 1e-12);
}

TEST(Confidence, OtherLevelsAndDegenerateSamples) {
  const std::vector<double> v = {1, 2, 3, 4};
  // t_{0.95, 3} = 2.353363 for a 90 % interval.
  EXPECT_NEAR(t_interval(v, 0.90).half_width, 2.353363 * std::sqrt(5.0 / 3) / 2, 1e-6);
  const auto one = t_interval({0.7});
  EXPECT_EQ(one.n, 1);
  EXPECT_DOUBLE_EQ(one.mean, 0.7);
  EXPECT_EQ(one.half_width, 0.0);
  EXPECT_EQ(t_interval({0.5, 0.5, 0.5}).half_width, 0.0);
  EXPECT_THROW(t_interval({}), std::invalid_argument);
  EXPECT_THROW(t_interval(v, 1.0), std::invalid_argument);
}

TEST(Confidence, PairedDifferencesKeepTheOrderAndRefuseUnequalLengths) {
  EXPECT_EQ(paired_differences({0.5, 0.75}, {0.25, 1.0}), (std::vector<double>{0.25, -0.25}));
  EXPECT_THROW(paired_differences({1.0}, {1.0, 2.0}), std::invalid_argument);
}

}  // namespace
}  // namespace croma
