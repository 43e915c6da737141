#include <gtest/gtest.h>

#include "croma/data/label_noise.h"

namespace croma {
namespace {

TEST(SymmetricLabelNoise, FlipRateMatchesPAndFlipsNeverKeepTheTrueLabel) {
  const std::int64_t n = 20000, classes = 5;
  std::vector<std::int64_t> labels(n);
  for (std::int64_t i = 0; i < n; ++i) labels[static_cast<std::size_t>(i)] = i % classes;
  for (double p : {0.1, 0.4, 0.8}) {
    Rng rng(3, 0);
    const auto noisy = symmetric_label_noise(labels, classes, p, rng);
    std::int64_t flipped = 0;
    std::vector<std::int64_t> landed(classes, 0);
    for (std::int64_t i = 0; i < n; ++i) {
      const auto a = labels[static_cast<std::size_t>(i)], b = noisy[static_cast<std::size_t>(i)];
      ASSERT_GE(b, 0);
      ASSERT_LT(b, classes);
      if (a != b) {
        ++flipped;
        ++landed[static_cast<std::size_t>(b)];
      }
    }
    // Binomial(n, p): 4 standard deviations.
    const double sd = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(static_cast<double>(flipped), n * p, 4 * sd) << "p = " << p;
    // Flips spread evenly over the other classes (each true class is equally common).
    for (auto c : landed) EXPECT_NEAR(static_cast<double>(c), flipped / 5.0, 5 * std::sqrt(flipped / 5.0));
  }
}

TEST(SymmetricLabelNoise, ZeroRateChangesNothingAndDrawsNothing) {
  std::vector<std::int64_t> labels = {0, 1, 2, 3, 0};
  Rng rng(1, 0), untouched(1, 0);
  EXPECT_EQ(symmetric_label_noise(labels, 4, 0.0, rng), labels);
  EXPECT_EQ(rng.next_u64(), untouched.next_u64());
}

TEST(SymmetricLabelNoise, SameSeedSameNoise) {
  std::vector<std::int64_t> labels(100, 2);
  Rng a(9, 1), b(9, 1);
  EXPECT_EQ(symmetric_label_noise(labels, 3, 0.5, a), symmetric_label_noise(labels, 3, 0.5, b));
}

TEST(SymmetricLabelNoise, InvalidInputsAreRefused) {
  Rng rng(1, 0);
  EXPECT_THROW(symmetric_label_noise({0, 1}, 2, 1.0, rng), std::invalid_argument);
  EXPECT_THROW(symmetric_label_noise({0, 1}, 2, -0.1, rng), std::invalid_argument);
  EXPECT_THROW(symmetric_label_noise({0, 5}, 2, 0.5, rng), std::invalid_argument);
  EXPECT_THROW(symmetric_label_noise({0}, 1, 0.5, rng), std::invalid_argument);
}

}  // namespace
}  // namespace croma
