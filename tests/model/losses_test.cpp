// Loss values against numbers worked out by hand on tiny inputs.
#include <gtest/gtest.h>

#include <cmath>

#include "croma/model/losses.h"

namespace croma {
namespace {

torch::Tensor rows(std::initializer_list<std::initializer_list<float>> values) {
  std::vector<torch::Tensor> r;
  for (auto row : values) r.push_back(torch::tensor(std::vector<float>(row)));
  return torch::stack(r);
}

torch::Tensor groups(std::vector<std::int64_t> g) { return torch::tensor(g, torch::kInt64); }

TEST(AlignmentMarginLoss, StrongPairsMatchHandComputation) {
  // S = zs zt^T = [[0.6, 1.0], [0.8, 0.0]]
  // anchor 0: relu(0.1 - 0.6 + 1.0) = 0.5; anchor 1: relu(0.1 - 0.0 + 0.8) = 0.9; mean 0.7
  auto zs = rows({{1, 0}, {0, 1}});
  auto zt = rows({{0.6f, 0.8f}, {1, 0}});
  auto loss = alignment_margin_loss(zs, zt, groups({0, 1}), groups({0, 1}), 0.1);
  EXPECT_NEAR(loss.item<double>(), 0.7, 1e-6);
}

TEST(AlignmentMarginLoss, PerfectlyAlignedPairsBeyondMarginCostNothing) {
  auto z = rows({{1, 0}, {0, 1}});
  EXPECT_NEAR(alignment_margin_loss(z, z, groups({0, 1}), groups({0, 1}), 0.1).item<double>(), 0.0, 1e-7);
  // With a margin above the gap of 1.0 the hinge is active: relu(1.5 - 1 + 0) = 0.5 per anchor.
  EXPECT_NEAR(alignment_margin_loss(z, z, groups({0, 1}), groups({0, 1}), 1.5).item<double>(), 0.5, 1e-6);
}

TEST(AlignmentMarginLoss, WeakGroupsAverageOverPositivesAndSumOverNegatives) {
  // S rows: [1, 0.6, 0] and [0, 0.8, 1]; source groups {0, 1}, target groups {0, 0, 1}.
  // anchor 0: positives {0, 1}, negative {2}: relu(0.5-1+0) + relu(0.5-0.6+0) = 0, /2 -> 0
  // anchor 1: positive {2}, negatives {0, 1}: relu(0.5-1+0) + relu(0.5-1+0.8) = 0.3
  auto zs = rows({{1, 0}, {0, 1}});
  auto zt = rows({{1, 0}, {0.6f, 0.8f}, {0, 1}});
  auto loss = alignment_margin_loss(zs, zt, groups({0, 1}), groups({0, 0, 1}), 0.5);
  EXPECT_NEAR(loss.item<double>(), 0.15, 1e-6);
}

TEST(AlignmentMarginLoss, AnchorsWithoutNegativesAreLeftOut) {
  auto zs = rows({{1, 0}, {0, 1}});
  auto zt = rows({{0, 1}, {1, 0}});
  // Everything in one group: no negatives anywhere, so no anchor counts and the loss is 0.
  EXPECT_EQ(alignment_margin_loss(zs, zt, groups({3, 3}), groups({3, 3}), 0.1).item<double>(), 0.0);
}

TEST(AlignmentMarginLoss, GradientPullsPositivesTogether) {
  auto zs = rows({{1, 0}}).requires_grad_(true);
  auto zt = rows({{0.6f, 0.8f}, {1, 0}});
  // anchor 0: positive target 0 (S=0.6), negative target 1 (S=1): loss = 0.1 - 0.6 + 1 = 0.5
  auto loss = alignment_margin_loss(zs, zt, groups({0}), groups({0, 1}), 0.1);
  loss.backward();
  // d/dzs = -zt0 + zt1 = (0.4, -0.8)
  EXPECT_NEAR(zs.grad()[0][0].item<double>(), 0.4, 1e-6);
  EXPECT_NEAR(zs.grad()[0][1].item<double>(), -0.8, 1e-6);
}

TEST(AlignmentInfoNceLoss, MatchesHandComputation) {
  // logits [1, 0] at temperature 1: -log(e / (e + 1)) = log(1 + e^-1)
  auto zs = rows({{1, 0}});
  auto zt = rows({{1, 0}, {0, 1}});
  auto loss = alignment_infonce_loss(zs, zt, groups({0}), groups({0, 1}), 1.0);
  EXPECT_NEAR(loss.item<double>(), std::log(1.0 + std::exp(-1.0)), 1e-6);
  // Temperature 0.5 doubles the logits: log(1 + e^-2)
  auto sharp = alignment_infonce_loss(zs, zt, groups({0}), groups({0, 1}), 0.5);
  EXPECT_NEAR(sharp.item<double>(), std::log(1.0 + std::exp(-2.0)), 1e-6);
}

TEST(AlignmentInfoNceLoss, SeveralPositivesAreAveraged) {
  // zs = e1; targets e1, e1, e2 with groups 0, 0, 1; logits [1, 1, 0]
  // -(1/2)(log p0 + log p1) with p0 = p1 = e / (2e + 1)
  auto zs = rows({{1, 0}});
  auto zt = rows({{1, 0}, {1, 0}, {0, 1}});
  auto loss = alignment_infonce_loss(zs, zt, groups({0}), groups({0, 0, 1}), 1.0);
  const double e = std::exp(1.0);
  EXPECT_NEAR(loss.item<double>(), -std::log(e / (2 * e + 1)), 1e-6);
}

TEST(CrossEntropy, MatchesHandComputation) {
  auto logits = rows({{2, 0, 0}, {0, 0, 0}});
  auto labels = torch::tensor(std::vector<std::int64_t>{0, 2});
  // row 0: log(1 + 2 e^-2); row 1: log 3
  const double expected = (std::log(1 + 2 * std::exp(-2.0)) + std::log(3.0)) / 2;
  EXPECT_NEAR(cross_entropy(logits, labels).item<double>(), expected, 1e-6);
}

TEST(Accuracy, CountsArgMaxHits) {
  auto logits = rows({{2, 0}, {0, 1}, {3, 1}, {0, 5}});
  auto labels = torch::tensor(std::vector<std::int64_t>{0, 1, 1, 1});
  EXPECT_DOUBLE_EQ(accuracy(logits, labels), 0.75);
}

}  // namespace
}  // namespace croma
