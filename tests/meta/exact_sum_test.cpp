// Fixed-point exact sums (meta/exact_sum.h): order independence, the error bound, and
// refusals instead of overflow.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "croma/meta/exact_sum.h"
#include "croma/meta/reptile.h"

namespace croma {
namespace {

// Sums of the deltas a[s] - b for the slots in `order`, grouped as `groups` "ranks" that
// each sum their slots first, like a layout of R ranks x T slots.
std::vector<float> exact_sum(const std::vector<std::vector<float>>& a, const std::vector<float>& b,
                             const std::vector<std::size_t>& order, std::size_t groups, const FixedPoint& fp) {
  const auto n = static_cast<std::int64_t>(b.size());
  std::vector<std::int64_t> total(b.size(), 0);
  const std::size_t per_group = order.size() / groups;
  for (std::size_t g = 0; g < groups; ++g) {
    std::vector<std::int64_t> mine(b.size(), 0);
    for (std::size_t i = g * per_group; i < (g + 1) * per_group; ++i) {
      EXPECT_EQ(add_fixed_differences(a[order[i]].data(), b.data(), n, fp, mine.data()), 0);
    }
    for (std::size_t i = 0; i < b.size(); ++i) total[i] += mine[i];  // the "allreduce"
  }
  std::vector<float> out(b.size());
  fixed_to_float(total.data(), n, fp.frac_bits, out.data());
  return out;
}

TEST(ExactSum, DoesNotDependOnOrderOrGroupingWhereFloatSumsDo) {
  std::mt19937 gen(3);
  std::normal_distribution<float> param(0.0f, 0.3f), step(0.0f, 0.02f);
  const std::size_t slots = 8, n = 2000;
  std::vector<float> meta(n);
  for (auto& v : meta) v = param(gen);
  std::vector<std::vector<float>> fast(slots, meta);
  for (auto& f : fast) {
    for (auto& v : f) v += step(gen);
  }
  const auto fp = FixedPoint::for_terms(kDeltaFracBits, slots);
  std::vector<std::size_t> order(slots);
  for (std::size_t i = 0; i < slots; ++i) order[i] = i;
  const auto reference = exact_sum(fast, meta, order, 1, fp);
  bool float_sums_differ = false;
  for (int trial = 0; trial < 6; ++trial) {
    std::shuffle(order.begin(), order.end(), gen);
    for (std::size_t groups : {1u, 2u, 4u, 8u}) {
      const auto got = exact_sum(fast, meta, order, groups, fp);
      ASSERT_EQ(std::memcmp(got.data(), reference.data(), n * sizeof(float)), 0) << "groups " << groups;
    }
    // The float running sums of the old code, for contrast: other orders round differently.
    std::vector<float> a(n, 0.0f), b(n, 0.0f);
    for (std::size_t s = 0; s < slots; ++s) {
      for (std::size_t i = 0; i < n; ++i) a[i] = (a[i] + fast[s][i]) - meta[i];
      for (std::size_t i = 0; i < n; ++i) b[i] = (b[i] + fast[order[s]][i]) - meta[i];
    }
    float_sums_differ = float_sums_differ || std::memcmp(a.data(), b.data(), n * sizeof(float)) != 0;
  }
  EXPECT_TRUE(float_sums_differ) << "the test data should show the float order dependence it guards against";
}

TEST(ExactSum, ErrorIsAtMostHalfAResolutionStepPerContribution) {
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> mag(-30.0f, -1.0f);
  const auto fp = FixedPoint::for_terms(kDeltaFracBits, 4);
  const double resolution = std::ldexp(1.0, -kDeltaFracBits);
  for (int i = 0; i < 20000; ++i) {
    const float zero = 0.0f;
    const float d = std::ldexp(1.0f, static_cast<int>(mag(gen))) * (1.0f + 0.37f * static_cast<float>(i % 7));
    std::int64_t q = 0;
    ASSERT_EQ(add_fixed_differences(&d, &zero, 1, fp, &q), 0);
    const double err = std::fabs(static_cast<double>(q) * resolution - static_cast<double>(d));
    ASSERT_LE(err, 0.5 * resolution) << d;
    // Deltas of magnitude >= 2^-17 fit the fixed-point grid: no rounding at all.
    if (std::fabs(d) >= std::ldexp(1.0f, -17)) ASSERT_EQ(err, 0.0) << d;
  }
}

TEST(ExactSum, RoundsTiesToEven) {
  const auto fp = FixedPoint::for_terms(1, 1);  // resolution 0.5
  std::int64_t q = 0;
  EXPECT_TRUE(add_fixed(0.25, fp, q));   // 0.5 steps -> 0
  EXPECT_EQ(q, 0);
  EXPECT_TRUE(add_fixed(0.75, fp, q));   // 1.5 steps -> 2
  EXPECT_EQ(q, 2);
  EXPECT_TRUE(add_fixed(-1.25, fp, q));  // -2.5 steps -> -2
  EXPECT_EQ(q, 0);
}

TEST(ExactSum, RefusesNonFiniteAndOutOfRangeValuesInsteadOfOverflowing) {
  const std::int64_t terms = 4;
  const auto fp = FixedPoint::for_terms(kDeltaFracBits, terms);
  EXPECT_EQ(fp.limit, 2048.0);  // 2^(51 - 40): the rounding's own range
  EXPECT_EQ(FixedPoint::for_terms(kDeltaFracBits, 1 << 16).limit, 128.0);  // 2^(63 - 40) / 2^16
  const float big = std::nextafter(static_cast<float>(fp.limit), 0.0f);  // the largest accepted
  const float zero = 0.0f;
  const std::vector<float> bad = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                                  -std::numeric_limits<float>::infinity(), static_cast<float>(fp.limit),
                                  -static_cast<float>(fp.limit), 1e30f};
  std::vector<std::int64_t> sums(bad.size(), 7);
  const std::vector<float> zeros(bad.size(), 0.0f);
  EXPECT_EQ(add_fixed_differences(bad.data(), zeros.data(), static_cast<std::int64_t>(bad.size()), fp, sums.data()),
            static_cast<std::int64_t>(bad.size()));
  EXPECT_EQ(sums, std::vector<std::int64_t>(bad.size(), 7));  // refused entries add nothing
  // `terms` accepted values at the limit, of either sign, cannot overflow int64.
  for (float sign : {1.0f, -1.0f}) {
    std::int64_t sum = 0;
    const float v = sign * big;
    for (std::int64_t t = 0; t < terms; ++t) ASSERT_EQ(add_fixed_differences(&v, &zero, 1, fp, &sum), 0);
    EXPECT_EQ(sign > 0, sum > 0);
    EXPECT_NEAR(std::fabs(fp.to_double(sum)), static_cast<double>(terms) * static_cast<double>(big), 1.0);
  }
  std::int64_t loss = 0;
  EXPECT_FALSE(add_fixed(std::nan(""), FixedPoint::for_terms(kLossFracBits, 1), loss));
  EXPECT_FALSE(add_fixed(std::ldexp(1.0, 63 - kLossFracBits), FixedPoint::for_terms(kLossFracBits, 1), loss));
  EXPECT_EQ(loss, 0);
  EXPECT_THROW(FixedPoint::for_terms(40, 0), std::invalid_argument);
  EXPECT_THROW(FixedPoint::for_terms(52, 1), std::invalid_argument);
}

TEST(ExactSum, StoreEqualsAddIntoZeros) {
  std::vector<float> a = {1.0f, -2.5e-9f, 3e-3f, std::numeric_limits<float>::quiet_NaN(), 4096.0f};
  std::vector<float> b = {0.5f, 0.0f, -1e-3f, 0.0f, 0.0f};
  const auto fp = FixedPoint::for_terms(kDeltaFracBits, 2);
  std::vector<std::int64_t> added(a.size(), 0), stored(a.size(), 99);
  EXPECT_EQ(add_fixed_differences(a.data(), b.data(), 5, fp, added.data()), 2);
  EXPECT_EQ(store_fixed_differences(a.data(), b.data(), 5, fp, stored.data()), 2);
  EXPECT_EQ(stored, added);  // refused entries store 0
}

TEST(ExactSum, TensorFormAddsTheSameIntegersAsThePointerForm) {
  std::mt19937 gen(9);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  auto meta = torch::empty({300});
  auto fast = torch::empty({300});
  for (int i = 0; i < 300; ++i) {
    meta[i] = dist(gen);
    fast[i] = meta[i].item<float>() + dist(gen) * 1e-3f;
  }
  const auto fp = FixedPoint::for_terms(kDeltaFracBits, 2);
  auto sums = torch::zeros({300}, torch::kInt64);
  EXPECT_EQ(accumulate_reptile_delta_exact(sums, fast, meta, {10, 250}, fp), 0);
  std::vector<std::int64_t> want(300, 0);
  add_fixed_differences(fast.data_ptr<float>() + 10, meta.data_ptr<float>() + 10, 240, fp, want.data() + 10);
  EXPECT_TRUE(sums.equal(torch::tensor(want)));
  EXPECT_EQ(sums[5].item<std::int64_t>(), 0);  // outside the range
  fast[20] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(accumulate_reptile_delta_exact(sums, fast, meta, {10, 250}, fp), 1);
}

TEST(ExactSum, TensorAddFixedGivesThePointerFormsIntegersAndCountsRefusals) {
  // Values of every magnitude, ties (x.5 after scaling), and values to refuse.
  std::mt19937 gen(11);
  std::normal_distribution<double> dist(0.0, 1.0);
  const auto fp = FixedPoint::for_terms(kLossFracBits, 4);
  std::vector<double> x(500);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = dist(gen) * std::pow(10.0, static_cast<double>(i % 12) - 8.0);
  x[1] = 2.5 / std::ldexp(1.0, fp.frac_bits);   // a tie: rounds to 2
  x[2] = -3.5 / std::ldexp(1.0, fp.frac_bits);  // rounds to -4
  x[3] = std::numeric_limits<double>::quiet_NaN();
  x[4] = fp.limit;                                  // refused: |x| >= limit
  x[5] = -std::numeric_limits<double>::infinity();
  std::vector<std::int64_t> want(x.size(), 7);
  std::int64_t want_refused = 0;
  for (std::size_t i = 0; i < x.size(); ++i) want_refused += add_fixed(x[i], fp, want[i]) ? 0 : 1;
  auto sums = torch::full({static_cast<std::int64_t>(x.size())}, 7, torch::kInt64);
  auto refused = torch::full({1}, 5, torch::kInt64);
  add_fixed(torch::tensor(x, torch::kFloat64), fp, sums, refused);
  EXPECT_TRUE(sums.equal(torch::tensor(want, torch::kInt64)));
  EXPECT_EQ(want_refused, 3);
  EXPECT_EQ(refused.item<std::int64_t>(), 5 + want_refused);
  EXPECT_EQ(sums[1].item<std::int64_t>(), 7 + 2);
  EXPECT_EQ(sums[2].item<std::int64_t>(), 7 - 4);
  EXPECT_THROW(add_fixed(torch::zeros({3}), fp, torch::zeros({3}, torch::kInt64), refused), std::invalid_argument);
}

}  // namespace
}  // namespace croma
