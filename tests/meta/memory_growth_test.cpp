// Long meta-training runs do not grow the process: after warm-up, thousands of meta-steps
// leave the resident set where it was (the trainer reuses its fast-weight, gradient, Adam,
// delta and kernel buffers; anything allocated per step is freed in the step).
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "croma/meta/experiment.h"
#include "croma/meta/meta_trainer.h"
#include "test_support.h"

namespace croma {
namespace {

double resident_mib() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double growth_over(MetaTrainer& trainer, std::int64_t warmup, std::int64_t steps) {
  for (std::int64_t s = 0; s < warmup; ++s) trainer.step();
  const double before = resident_mib();
  for (std::int64_t s = 0; s < steps; ++s) trainer.step();
  return resident_mib() - before;
}

class MemoryGrowth : public ::testing::TestWithParam<bool> {};

TEST_P(MemoryGrowth, ResidentSetFlatAfterWarmUp) {
  if (!std::ifstream("/proc/self/statm")) GTEST_SKIP() << "no /proc/self/statm";
  auto o = testing::tiny_options();
  o.meta.tasks_per_rank = 2;
  Experiment exp(o);
  const auto comm = Communicator::self();
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  trainer.set_fused_inner_loop(GetParam());
  trainer.set_meta_parameters(exp.model().initial_parameters(o.seed));
  const std::int64_t steps = GetParam() ? 3000 : 500;
  const double grew = growth_over(trainer, 200, steps);
  // A leak of one 1 KiB allocation per step would add ~3 MiB (fused) here.
  EXPECT_LT(grew, 2.0) << "resident set grew " << grew << " MiB over " << steps << " meta-steps";
}

INSTANTIATE_TEST_SUITE_P(FusedAndAutograd, MemoryGrowth, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "fused" : "autograd"; });

}  // namespace
}  // namespace croma
