// Distributed meta-training under `mpirun -np 2` (see tests/CMakeLists.txt).
#include <gtest/gtest.h>

#include "croma/app/experiment.h"
#include "croma/distributed/communicator.h"
#include "croma/meta/meta_trainer.h"
#include "test_support.h"

namespace croma {
namespace {

torch::Tensor train(const TrainOptions& o, const Experiment& exp, const Communicator& comm,
                    torch::Tensor init) {
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  trainer.set_meta_parameters(std::move(init));
  for (std::int64_t s = 0; s < o.meta.steps; ++s) trainer.step();
  EXPECT_TRUE(trainer.replicas_agree());
  return trainer.meta_parameters();
}

class TwoRanks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Communicator::world().size() != 2) GTEST_SKIP() << "run under mpirun -np 2";
  }
};

TEST_F(TwoRanks, EveryRankEndsWithIdenticalMetaParameters) {
  const auto world = Communicator::world();
  auto o = testing::tiny_options();
  Experiment exp(o);
  // Give each rank a different starting point: the broadcast must make rank 0's win.
  auto init = exp.model().initial_parameters(o.seed + static_cast<std::uint64_t>(world.rank()));
  const auto result = train(o, exp, world, init);
  auto gathered = torch::empty({2, result.numel()});
  MPI_Allgather(result.data_ptr<float>(), static_cast<int>(result.numel()), MPI_FLOAT,
                gathered.data_ptr<float>(), static_cast<int>(result.numel()), MPI_FLOAT, MPI_COMM_WORLD);
  EXPECT_TRUE(gathered[0].equal(gathered[1]));
  EXPECT_TRUE(world.all_equal(bitwise_checksum(result)));
  // Training moved away from rank 0's start.
  const auto rank0_init = exp.model().initial_parameters(o.seed);
  EXPECT_GT((result - rank0_init).abs().max().item<double>(), 0.0);
}

TEST_F(TwoRanks, TwoRanksWithOneTaskEqualOneRankWithTwoTasks) {
  const auto world = Communicator::world();
  auto o = testing::tiny_options();
  o.meta.steps = 8;
  Experiment exp(o);
  const auto init = exp.model().initial_parameters(o.seed);
  o.meta.tasks_per_rank = 1;
  const auto distributed = train(o, exp, world, init);
  // The reference: every rank alone (MPI_COMM_SELF), two task slots per step. Slots 0 and 1
  // draw from the streams that ranks 0 and 1 used above.
  o.meta.tasks_per_rank = 2;
  const auto single = train(o, exp, Communicator::self(), init);
  const double diff = (distributed - single).abs().max().item<double>();
  EXPECT_LE(diff, 1e-5) << "max abs difference " << diff;
  EXPECT_GT((single - init).abs().max().item<double>(), 1e-4);
}

TEST_F(TwoRanks, ChecksumsNoticeRanksThatDisagree) {
  const auto world = Communicator::world();
  auto t = torch::ones({4});
  EXPECT_TRUE(world.all_equal(bitwise_checksum(t)));
  if (world.rank() == 1) t[2] = std::nextafter(1.0f, 2.0f);  // one ulp apart
  EXPECT_FALSE(world.all_equal(bitwise_checksum(t)));
}

TEST_F(TwoRanks, AllreduceSumsAndBroadcastCopiesRootsBuffer) {
  const auto world = Communicator::world();
  auto t = torch::full({3}, static_cast<float>(world.rank() + 1));
  world.allreduce_sum(t);
  EXPECT_TRUE(t.equal(torch::full({3}, 3.0f)));
  auto b = torch::full({2}, static_cast<float>(world.rank() * 10 + 5));
  world.broadcast(b, 0);
  EXPECT_TRUE(b.equal(torch::full({2}, 5.0f)));
}

}  // namespace
}  // namespace croma
