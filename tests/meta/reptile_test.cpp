// Reptile arithmetic and the fused flat Adam, against hand-computed values.
#include <gtest/gtest.h>

#include "croma/meta/flat_adam.h"
#include "croma/meta/reptile.h"

#include <cmath>

namespace croma {
namespace {

torch::Tensor vec(std::vector<float> v) { return torch::tensor(v); }

TEST(Reptile, UpdateMovesMetaByEpsilonTimesMeanDelta) {
  auto meta = vec({1, 1, 1});
  auto delta_sum = vec({2, -4, 0});  // two slots of one task covering every parameter
  const auto coverage = task_coverage({{0, 3}}, 3);
  apply_reptile_update(meta, delta_sum, coverage, 2.0, 0.5);
  // meta + 0.5 * [1, -2, 0]
  EXPECT_TRUE(torch::allclose(meta, vec({1.5f, 0.0f, 1.0f})));
  EXPECT_THROW(apply_reptile_update(meta, delta_sum, coverage, 0.0, 0.5), std::invalid_argument);
}

TEST(Reptile, CoverageCountsTheRangesOverEachStretch) {
  // Ranges [0, 3) and [2, 5) of 6 parameters: 1, 1, 2, 1, 1, 0.
  const auto c = task_coverage({{0, 3}, {2, 5}}, 6);
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].range.begin, 0); EXPECT_EQ(c[0].range.end, 2); EXPECT_EQ(c[0].tasks, 1);
  EXPECT_EQ(c[1].range.begin, 2); EXPECT_EQ(c[1].range.end, 3); EXPECT_EQ(c[1].tasks, 2);
  EXPECT_EQ(c[2].range.begin, 3); EXPECT_EQ(c[2].range.end, 5); EXPECT_EQ(c[2].tasks, 1);
  EXPECT_EQ(c[3].range.begin, 5); EXPECT_EQ(c[3].range.end, 6); EXPECT_EQ(c[3].tasks, 0);
  // Disjoint neighbours with equal counts merge.
  const auto d = task_coverage({{0, 2}, {2, 4}}, 4);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].tasks, 1);
  EXPECT_THROW(task_coverage({{0, 7}}, 6), std::invalid_argument);
}

TEST(Reptile, SharedParametersMoveByTheMeanOverTheTasksThatAdaptedThem) {
  auto meta = vec({0, 0, 0, 0, 0, 0});
  // Two slots; sums of both task kinds' deltas over them.
  auto delta_sum = vec({2, 2, 4, 2, 2, 0});
  apply_reptile_update(meta, delta_sum, task_coverage({{0, 3}, {2, 5}}, 6), 2.0, 0.5);
  // 0.5 * delta_sum / (2 slots * tasks): parameter 2 is adapted by both kinds.
  EXPECT_TRUE(torch::allclose(meta, vec({0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.0f})));
  // With disjoint ranges it is the plain update, bit for bit.
  auto a = torch::randn({6}), b = a.clone(), d = torch::randn({6});
  apply_reptile_update(a, d, task_coverage({{0, 2}, {2, 6}}, 6), 3.0, 0.1);
  b.add_(d, 0.1 / 3.0);
  EXPECT_TRUE(a.equal(b));
}

TEST(Reptile, StepFromTheExactSumsEqualsConvertingThenApplyingBitForBit) {
  // Sums of every magnitude the exact sum carries (deltas of 1e-9 to 1e2, a few slots' worth,
  // both signs), over ranges of odd lengths and offsets, some covered twice.
  torch::manual_seed(7);
  const std::int64_t n = 1037;
  const int frac_bits = kDeltaFracBits;
  const auto d = torch::randn({n}, torch::kFloat64) * torch::pow(10.0, torch::randint(-9, 3, {n}).to(torch::kFloat64));
  auto sums = (d * std::ldexp(1.0, frac_bits)).round().to(torch::kInt64);
  sums[5] = 0;
  sums[3] = std::int64_t{1} << frac_bits;  // a delta sum of 1
  const auto coverage = task_coverage({{3, 500}, {200, 1000}, {1001, 1036}}, n);
  for (const double slots : {1.0, 3.0, 7.0}) {
    auto reference = torch::randn({n});
    auto fused = reference.clone();
    auto delta = torch::empty({n});
    fixed_to_float(sums.data_ptr<std::int64_t>(), n, frac_bits, delta.data_ptr<float>());
    apply_reptile_update(reference, delta, coverage, slots, 0.1);
    apply_reptile_update_from_fixed(fused, sums.data_ptr<std::int64_t>(), frac_bits, coverage, slots, 0.1);
    EXPECT_TRUE(fused.equal(reference)) << "slots " << slots << ": max difference "
                                        << (fused - reference).abs().max().item<float>();
  }
  // Parameters no range covers stay as they were.
  auto meta = torch::ones({n});
  apply_reptile_update_from_fixed(meta, sums.data_ptr<std::int64_t>(), frac_bits, coverage, 2.0, 0.1);
  EXPECT_EQ(meta[0].item<float>(), 1.0f);
  EXPECT_EQ(meta[1000].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(meta[3].item<float>(), 1.0f + 0.1f / 2.0f);  // epsilon * 1 / (2 slots * 1 task)
  EXPECT_THROW(apply_reptile_update_from_fixed(meta, sums.data_ptr<std::int64_t>(), frac_bits, coverage, 0.0, 0.1),
               std::invalid_argument);
  auto doubles = torch::ones({n}, torch::kFloat64);
  EXPECT_THROW(apply_reptile_update_from_fixed(doubles, sums.data_ptr<std::int64_t>(), frac_bits, coverage, 2.0, 0.1),
               std::invalid_argument);
}

TEST(FlatAdam, FirstStepsMoveByLearningRateTimesSignOfGradient) {
  // With bias correction, Adam's first step is lr * g / (|g| + eps): a step of lr against g.
  FlatAdam adam;
  adam.reset(2, torch::kCPU);
  auto p = vec({1, 2});
  const auto g = vec({0.5f, -2.0f});
  const AdamSettings s{0.1, 0.9, 0.999, 1e-8};
  adam.step(p, g, s);
  EXPECT_NEAR(p[0].item<double>(), 0.9, 1e-6);
  EXPECT_NEAR(p[1].item<double>(), 2.1, 1e-6);
  // A constant gradient keeps m_hat = g and v_hat = g^2: again lr per step.
  adam.step(p, g, s);
  EXPECT_NEAR(p[0].item<double>(), 0.8, 1e-6);
  EXPECT_NEAR(p[1].item<double>(), 2.2, 1e-6);
  EXPECT_EQ(adam.steps_taken(), 2);
}

TEST(FlatAdam, SecondStepMatchesTheAdamFormula) {
  FlatAdam adam;
  adam.reset(1, torch::kCPU);
  auto p = vec({0});
  const AdamSettings s{0.01, 0.9, 0.999, 1e-8};
  adam.step(p, vec({1}), s);
  adam.step(p, vec({3}), s);
  // m = 0.9*0.1 + 0.1*3 = 0.39, v = 0.999*0.001 + 0.001*9 = 0.009999
  // m_hat = 0.39/0.19, v_hat = 0.009999/0.001999; p = -0.01 - 0.01 * m_hat / sqrt(v_hat)
  const double m_hat = 0.39 / (1 - 0.81), v_hat = 0.009999 / (1 - 0.999 * 0.999);
  EXPECT_NEAR(p[0].item<double>(), -0.01 - 0.01 * m_hat / (std::sqrt(v_hat) + 1e-8), 1e-7);
}

TEST(FlatAdam, ResetForgetsMoments) {
  FlatAdam adam;
  adam.reset(1, torch::kCPU);
  auto p = vec({0});
  const AdamSettings s{0.1, 0.9, 0.999, 1e-8};
  adam.step(p, vec({1}), s);
  adam.reset(1, torch::kCPU);
  auto q = vec({0});
  adam.step(q, vec({-1}), s);  // a fresh first step: exactly +lr, no memory of the +1 gradient
  EXPECT_NEAR(q[0].item<double>(), 0.1, 1e-6);
  EXPECT_THROW(adam.step(vec({0, 0}), vec({1, 1}), s), std::logic_error);
}

}  // namespace
}  // namespace croma
