// Distributed meta-training under `mpirun -np 2` (see tests/CMakeLists.txt).
#include <gtest/gtest.h>

#include <filesystem>

#include "croma/meta/experiment.h"
#include "croma/model/checkpoint.h"
#include "croma/distributed/communicator.h"
#include "croma/meta/meta_trainer.h"
#include "test_support.h"

namespace croma {
namespace {

torch::Tensor train(const TrainOptions& o, const Experiment& exp, const Communicator& comm,
                    torch::Tensor init, bool fused = true, std::vector<StepStats>* stats = nullptr) {
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  trainer.set_fused_inner_loop(fused);
  EXPECT_EQ(trainer.fused_inner_loop(), fused);
  trainer.set_meta_parameters(std::move(init));
  for (std::int64_t s = 0; s < o.meta.steps; ++s) {
    const auto st = trainer.step();
    if (stats) stats->push_back(st);
  }
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

TEST_F(TwoRanks, TwoRanksWithOneTaskEqualOneRankWithTwoTasksBitForBit) {
  // Exact sums (meta/exact_sum.h): the same slots give the same bits on any layout, with the
  // fused inner loops and with the autograd ones.
  const auto world = Communicator::world();
  for (bool fused : {true, false}) {
    auto o = testing::tiny_options();
    o.meta.steps = 40;
    Experiment exp(o);
    const auto init = exp.model().initial_parameters(o.seed);
    o.meta.tasks_per_rank = 1;
    std::vector<StepStats> two_ranks, one_rank;
    const auto distributed = train(o, exp, world, init, fused, &two_ranks);
    // The reference: every rank alone (MPI_COMM_SELF), two task slots per step. Slots 0 and 1
    // draw from the streams that ranks 0 and 1 used above.
    o.meta.tasks_per_rank = 2;
    const auto single = train(o, exp, Communicator::self(), init, fused, &one_rank);
    EXPECT_TRUE(distributed.equal(single)) << (fused ? "fused" : "autograd") << ": max abs difference "
                                           << (distributed - single).abs().max().item<double>();
    ASSERT_EQ(two_ranks.size(), one_rank.size());
    for (std::size_t s = 0; s < two_ranks.size(); ++s) {
      ASSERT_EQ(two_ranks[s].losses, one_rank[s].losses) << "step " << s + 1;  // exact doubles
      ASSERT_EQ(two_ranks[s].episodes, one_rank[s].episodes);
    }
    EXPECT_GT((single - init).abs().max().item<double>(), 1e-4);
  }
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

TEST_F(TwoRanks, ResumeFromAGatheredCheckpointContinuesBitForBit) {
  // The path `croma train` takes: rank 0 gathers both ranks' streams into one checkpoint
  // file, a new pair of trainers reads it back (rank 0 reads, scatters), and the continued
  // run ends with exactly the meta-parameters of a run never interrupted.
  const auto world = Communicator::world();
  auto o = testing::tiny_options();
  o.meta.tasks_per_rank = 2;
  Experiment exp(o);
  const auto init = exp.model().initial_parameters(o.seed);
  MetaTrainer whole(exp.model(), exp.sampler(), o.meta, o.seed, world, torch::kCPU);
  whole.set_meta_parameters(init);
  for (int s = 0; s < 8; ++s) whole.step();

  std::string path = (std::filesystem::path(::testing::TempDir()) /
                      ("croma_resume_mpi_" + std::to_string(::getpid()) + ".h5"))
                         .string();
  world.broadcast_string(path);  // one file for both ranks
  {
    MetaTrainer first(exp.model(), exp.sampler(), o.meta, o.seed, world, torch::kCPU);
    first.set_meta_parameters(init);
    for (int s = 0; s < 3; ++s) first.step();
    const auto gathered = world.gather_strings(nlohmann::json(first.rng_states()).dump());
    if (world.is_root()) {
      ASSERT_EQ(gathered.size(), 2u);
      EXPECT_NE(gathered[0], gathered[1]);
      TrainingState st;
      st.world_size = 2;
      st.tasks_per_rank = 2;
      for (const auto& g : gathered) {
        for (const auto& s : nlohmann::json::parse(g).get<std::vector<std::string>>()) st.rng_states.push_back(s);
      }
      write_checkpoint(path, exp.model().layout(), {first.meta_parameters(), 3, "{}", st});
    }
    world.barrier();
  }
  MetaTrainer second(exp.model(), exp.sampler(), o.meta, o.seed, world, torch::kCPU);
  std::vector<std::string> per_rank;
  auto params = torch::empty({exp.model().numel()});
  if (world.is_root()) {
    const auto ck = read_checkpoint(path, exp.model().layout());
    params = ck.parameters;
    for (int r = 0; r < 2; ++r) {
      per_rank.push_back(nlohmann::json(std::vector<std::string>(ck.state->rng_states.begin() + 2 * r,
                                                                 ck.state->rng_states.begin() + 2 * r + 2))
                             .dump());
    }
  }
  second.set_meta_parameters(params);
  second.set_rng_states(nlohmann::json::parse(world.scatter_strings(per_rank)).get<std::vector<std::string>>());
  for (int s = 0; s < 5; ++s) second.step();
  EXPECT_TRUE(second.meta_parameters().equal(whole.meta_parameters()));
  EXPECT_TRUE(second.replicas_agree());
  world.barrier();
  if (world.is_root()) std::filesystem::remove(path);
}

TEST_F(TwoRanks, AStopRequestOnOneRankReachesEveryRankInTheSameStep) {
  const auto world = Communicator::world();
  auto o = testing::tiny_options();
  Experiment exp(o);
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, world, torch::kCPU);
  trainer.set_meta_parameters(exp.model().initial_parameters(o.seed));
  EXPECT_FALSE(trainer.step(false).stop_requested);
  // Only rank 1 got the signal.
  EXPECT_TRUE(trainer.step(world.rank() == 1).stop_requested);
  EXPECT_FALSE(trainer.step(false).stop_requested);
}

TEST_F(TwoRanks, GatherScatterAndBroadcastOfStrings) {
  const auto world = Communicator::world();
  const auto gathered = world.gather_strings(std::string(static_cast<std::size_t>(world.rank() + 1), 'a' + world.rank()));
  if (world.is_root()) {
    EXPECT_EQ(gathered, (std::vector<std::string>{"a", "bb"}));
  } else {
    EXPECT_TRUE(gathered.empty());
  }
  const auto mine = world.scatter_strings(world.is_root() ? std::vector<std::string>{"zero", "one!"}
                                                          : std::vector<std::string>{});
  EXPECT_EQ(mine, world.rank() == 0 ? "zero" : "one!");
  std::string text = world.is_root() ? "from root" : "x";
  world.broadcast_string(text);
  EXPECT_EQ(text, "from root");
}

}  // namespace
}  // namespace croma
