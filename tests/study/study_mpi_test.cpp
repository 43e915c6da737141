// The study gives bit-identical tables on 1 and 2 ranks (run under mpirun -np 2).
#include <gtest/gtest.h>

#include "croma/distributed/communicator.h"
#include "croma/study/alignment_study.h"
#include "croma/study/weak_alignment.h"

namespace croma {
namespace {

TEST(StudyTwoRanks, TableIsIdenticalOnOneAndTwoRanks) {
  const auto world = Communicator::world();
  if (world.size() != 2) GTEST_SKIP() << "run under mpirun -np 2";
  auto g = default_study_grid();
  g.n_align = {25, 60, 500};
  g.sigma_w2 = {0.0, 0.5, 2.0};  // 9 cells: an odd count, so the ranks get unequal shares
  g.trials = 64;
  for (auto m : {StudyMethod::kStatistics, StudyMethod::kDirect}) {
    g.method = m;
    const auto two = run_study(g, world, torch::kCPU);
    const auto one = run_study(g, Communicator::self(), torch::kCPU);
    ASSERT_EQ(two.size(), one.size());
    for (std::size_t c = 0; c < one.size(); ++c) {
      EXPECT_EQ(two[c].supervised.mean, one[c].supervised.mean);
      EXPECT_EQ(two[c].source.std, one[c].source.std);
      EXPECT_EQ(two[c].cross.mean, one[c].cross.mean);
      EXPECT_EQ(two[c].cross.sem, one[c].cross.sem);
      EXPECT_GT(one[c].cross.mean, 0.0);
    }
  }
  WeakGrid w;
  w.d = 3;
  w.n1 = 30;
  w.n = {40};
  w.sets = {5, 10, 40};
  w.trials = 8;
  const auto a = run_weak_study(w, world, torch::kCPU);
  const auto b = run_weak_study(w, Communicator::self(), torch::kCPU);
  for (std::size_t c = 0; c < a.size(); ++c) {
    EXPECT_EQ(a[c].centroid.mean, b[c].centroid.mean);
    EXPECT_EQ(a[c].pairing.mean, b[c].pairing.mean);
  }
}

}  // namespace
}  // namespace croma
