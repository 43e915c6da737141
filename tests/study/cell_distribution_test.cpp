// The study's cells over ranks (study/cell_distribution.h), on one rank; tests/study/
// study_mpi_test.cpp compares one and two ranks through both engines.
#include <gtest/gtest.h>

#include <stdexcept>

#include "croma/distributed/communicator.h"
#include "croma/study/cell_distribution.h"

namespace croma {
namespace {

TEST(CellDistribution, EveryCellInOrderWithItsSummaries) {
  std::vector<std::pair<std::int64_t, std::int64_t>> progress;
  const auto stats = distribute_cells(
      3, 2, Communicator::self(),
      [](std::int64_t c) {
        const double v = static_cast<double>(c);
        return std::vector<ErrorStats>{{v, v + 0.5, v + 0.25}, {10 * v, 1.0, 2.0}};
      },
      [&](std::int64_t done, std::int64_t mine) { progress.emplace_back(done, mine); });
  ASSERT_EQ(stats.size(), 6u);
  EXPECT_EQ(stats[2].mean, 1.0);   // cell 1, first summary
  EXPECT_EQ(stats[2].std, 1.5);
  EXPECT_EQ(stats[2].sem, 1.25);
  EXPECT_EQ(stats[5].mean, 20.0);  // cell 2, second summary
  EXPECT_EQ(progress, (std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 3}, {2, 3}, {3, 3}}));
}

TEST(CellDistribution, RefusesACellWithTheWrongCount) {
  EXPECT_THROW(distribute_cells(
                   2, 2, Communicator::self(), [](std::int64_t) { return std::vector<ErrorStats>(1); }, {}),
               std::logic_error);
}

}  // namespace
}  // namespace croma
