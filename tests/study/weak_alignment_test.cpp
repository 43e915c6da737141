// Weak alignment from S sets (Appendix E).
#include <gtest/gtest.h>

#include <cmath>

#include "croma/distributed/communicator.h"
#include "croma/study/weak_alignment.h"

namespace croma {
namespace {

WeakGrid small_grid() {
  WeakGrid g;
  g.d = 3;
  g.sigma2 = 0.5;
  g.sigma_w2 = 0.5;
  g.n1 = 40;
  g.trials = 60;
  g.seed = 4;
  return g;
}

TEST(WeakAlignment, SingletonSetsAreStrongAlignment) {
  // S = N: k-means started at every point keeps one point per set, so both estimators are the
  // ordinary least-squares fit on known pairs, trial by trial.
  auto g = small_grid();
  const auto e = simulate_weak_cell(g, 50, 50, torch::kCPU);
  ASSERT_EQ(e.centroid.size(), 60u);
  for (std::size_t t = 0; t < e.centroid.size(); ++t) EXPECT_NEAR(e.centroid[t], e.pairing[t], 1e-8 * (1 + e.pairing[t]));
  // ... and their mean is the exact strong-alignment error at n_align = N.
  AlignmentSetting s;
  s.d = 3; s.sigma2 = 0.5; s.sigma_w2 = 0.5; s.n1 = 40; s.n2 = 5; s.n_align = 50;
  const auto r = summarize(e.pairing);
  EXPECT_LT(std::abs(r.mean - cross_modal_error(s)), 3.5 * r.sem) << r.mean << " vs " << cross_modal_error(s);
}

TEST(WeakAlignment, FewSetsLoseInformation) {
  auto g = small_grid();
  const auto coarse = simulate_weak_cell(g, 200, 5, torch::kCPU);
  const auto fine = simulate_weak_cell(g, 200, 200, torch::kCPU);
  // Random partners inside 5 big sets bias W^ towards the between-set part of x2's covariance.
  EXPECT_GT(summarize(coarse.pairing).mean, 3 * summarize(fine.pairing).mean);
  // Set means keep W (x1 means = W x2 means + noise), but only S of them carry the signal.
  EXPECT_GT(summarize(coarse.centroid).mean, summarize(fine.centroid).mean);
}

TEST(WeakAlignment, OptimaAndSlopeFromCells) {
  std::vector<WeakCell> cells;
  for (std::int64_t n : {100, 400, 1600}) {
    const double best = std::sqrt(static_cast<double>(n));
    for (std::int64_t s : {5, 10, 20, 40, 80}) {
      WeakCell c;
      c.n = n;
      c.sets = s;
      c.centroid.mean = std::abs(std::log(s / best));  // minimum at S = sqrt(N)
      c.pairing.mean = 1.0 / static_cast<double>(s);   // minimum at the largest S
      cells.push_back(c);
    }
  }
  const auto f = find_weak_optima(cells);
  ASSERT_EQ(f.optima.size(), 3u);
  EXPECT_EQ(f.optima[0].best_sets_centroid, 10);
  EXPECT_EQ(f.optima[1].best_sets_centroid, 20);
  EXPECT_EQ(f.optima[2].best_sets_centroid, 40);
  EXPECT_NEAR(f.slope_centroid, 0.5, 1e-12);
  EXPECT_TRUE(f.optima[0].pairing_at_largest);
  EXPECT_NEAR(f.slope_pairing, 0.0, 1e-12);
  // 1/S: within 10% of the best (1/80) only at S = 80; |log(S/sqrt(N))| <= 0.1 only at the argmin.
  EXPECT_EQ(f.optima[1].flat_sets_pairing, 80);
  EXPECT_EQ(f.optima[1].flat_sets_centroid, 20);
}

TEST(WeakAlignment, InvalidGridsAreRejected) {
  auto g = small_grid();
  g.n = {100};
  g.sets = {3};  // <= d + 1
  EXPECT_THROW(validate_weak_grid(g), std::invalid_argument);
  g.sets = {200};  // > N
  EXPECT_THROW(validate_weak_grid(g), std::invalid_argument);
  g.sets = {};
  g.n = {4};  // n <= d + 1
  EXPECT_THROW(validate_weak_grid(g), std::invalid_argument);
  const auto s = default_set_grid(20, 1600);
  EXPECT_EQ(s.front(), 22);
  EXPECT_EQ(s.back(), 1600);
}

}  // namespace
}  // namespace croma
