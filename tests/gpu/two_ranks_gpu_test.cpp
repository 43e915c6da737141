// Two MPI ranks sharing one device (ctest's gpu.two_ranks_share_one_device runs this binary
// under mpirun -np 2): `--device auto` puts both on the same GPU when there is one, they
// train in step, and they end where one rank with both task slots ends. The exact sums
// (meta/exact_sum.h) make that bit-identical on the CPU; on a GPU the test allows float
// tolerance, 1e-5 of the largest move, and prints the difference it measured.
#include <gtest/gtest.h>

#include <cstdio>

#include "croma/meta/experiment.h"
#include "croma/meta/meta_trainer.h"
#include "croma/util/runtime.h"
#include "gpu/gpu_test_device.h"
#include "test_support.h"

namespace croma {
namespace {

torch::Tensor train(const TrainOptions& o, const Experiment& exp, const Communicator& comm,
                    const torch::Device& device, bool* agree = nullptr) {
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, device);
  trainer.set_fused_inner_loop(false);  // the device's code path (see gpu_test_device.h)
  trainer.set_meta_parameters(exp.model().initial_parameters(o.seed));
  for (std::int64_t s = 0; s < o.meta.steps; ++s) trainer.step();
  if (agree) *agree = trainer.replicas_agree();
  return trainer.meta_parameters();
}

TEST(TwoRanksOneDevice, ShareTheDeviceAndMatchOneRankWithTwoSlots) {
  CROMA_DEVICE_UNDER_TEST(device);
  const auto world = Communicator::world();
  if (world.size() != 2) GTEST_SKIP() << "needs 2 ranks: ctest runs it as gpu.two_ranks_share_one_device under mpirun";
  // What `croma train --device auto` picks on a machine with one GPU: cuda:<local rank % 1>.
  const torch::Device mine = device.is_cpu() ? device : resolve_device("auto", world.local_rank());
  if (device.is_cuda() && torch::cuda::device_count() == 1) {
    EXPECT_EQ(mine, torch::Device(torch::kCUDA, 0)) << "both ranks must land on the one GPU";
  }
  auto o = testing::tiny_options();
  o.meta.steps = 3;
  Experiment exp(o);
  bool agree = false;
  const auto two_ranks = train(o, exp, world, mine, &agree);
  EXPECT_TRUE(agree) << "the two ranks' meta-parameters differ";
  auto one = o;
  one.meta.tasks_per_rank = 2;
  const auto one_rank = train(one, exp, Communicator::self(), mine);
  const auto start = exp.model().initial_parameters(o.seed);
  const double moved = (one_rank - start).abs().max().item<double>();
  const double diff = (two_ranks - one_rank).abs().max().item<double>();
  ASSERT_GT(moved, 0.0);
  if (device.is_cpu()) {
    EXPECT_EQ(diff, 0.0) << "on the CPU the exact sums make them bit-identical";
  } else {
    EXPECT_LE(diff, 1e-5 * moved) << "moved " << moved << ", differ by " << diff;
  }
  if (world.rank() == 0) {
    std::printf("measured: two ranks on %s vs one rank with two slots: max difference / max move = %.3g\n",
                mine.str().c_str(), diff / moved);
  }
}

}  // namespace
}  // namespace croma
