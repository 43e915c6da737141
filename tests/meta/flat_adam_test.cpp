// The fused single-pass CPU Adam against the ATen formulation and torch::optim::Adam.
#include <gtest/gtest.h>
#include <torch/optim/adam.h>

#include "croma/meta/flat_adam.h"

namespace croma {
namespace {

// Several steps from random gradients (of varied scale, with zeros) on n parameters.
std::vector<torch::Tensor> gradients(std::int64_t n, int steps) {
  torch::manual_seed(3);
  std::vector<torch::Tensor> out;
  for (int s = 0; s < steps; ++s) {
    auto g = torch::randn({n}) * std::pow(10.0, s % 3 - 1);
    g.index_put_({torch::randint(n, {n / 10}, torch::kLong)}, 0.0);
    out.push_back(g);
  }
  return out;
}

TEST(FusedAdam, EqualsTheAtenPassesAndTorchOptimAdamOverSeveralSteps) {
  const std::int64_t n = 1037;  // not a multiple of any vector width: the tail is exercised
  const AdamSettings s{3e-3, 0.9, 0.999, 1e-8};
  const auto grads = gradients(n, 7);
  torch::manual_seed(5);
  const auto start = torch::randn({n});
  auto fused = start.clone(), reference = start.clone();
  auto optim_param = start.clone().requires_grad_(true);
  torch::optim::Adam optim({optim_param}, torch::optim::AdamOptions(s.lr).betas({s.beta1, s.beta2}).eps(s.eps));
  FlatAdam a, b;
  a.reset(n, torch::kCPU);
  b.reset(n, torch::kCPU);
  for (const auto& g : grads) {
    a.step(fused, g, s);
    b.step_reference(reference, g, s);
    optim_param.mutable_grad() = g.clone();
    optim.step();
  }
  EXPECT_FALSE(fused.equal(start));
  EXPECT_TRUE(torch::allclose(fused, reference, 1e-5, 1e-7)) << (fused - reference).abs().max();
  EXPECT_TRUE(torch::allclose(fused, optim_param.detach(), 1e-5, 1e-7))
      << (fused - optim_param.detach()).abs().max();
  EXPECT_EQ(a.steps_taken(), 7);
}

TEST(FusedAdam, RowsOfAStridedRangeAreIndependentCopies) {
  // Two fast-weight copies of a 10-element model, adapting elements [2, 8) of each: the same
  // as two separate optimisers over each copy's range, and nothing outside it moves.
  const AdamSettings s{1e-2, 0.9, 0.999, 1e-8};
  torch::manual_seed(11);
  auto copies = torch::randn({2, 10});
  auto grads = torch::randn({2, 10});
  const auto before = copies.clone();
  FlatAdam joint;
  joint.reset(12, torch::kCPU);
  for (int step = 0; step < 3; ++step) joint.step(copies.narrow(1, 2, 6), grads.narrow(1, 2, 6) * (step + 1), s);
  for (int r = 0; r < 2; ++r) {
    auto alone = before[r].clone();
    FlatAdam single;
    single.reset(6, torch::kCPU);
    for (int step = 0; step < 3; ++step) single.step(alone.narrow(0, 2, 6), grads[r].narrow(0, 2, 6) * (step + 1), s);
    EXPECT_TRUE(torch::allclose(copies[r], alone, 1e-6, 1e-7)) << r;
    EXPECT_TRUE(copies[r].narrow(0, 0, 2).equal(before[r].narrow(0, 0, 2)));
    EXPECT_TRUE(copies[r].narrow(0, 8, 2).equal(before[r].narrow(0, 8, 2)));
  }
  EXPECT_THROW(joint.step(copies.narrow(1, 2, 5), grads.narrow(1, 2, 5), s), std::logic_error);
}

}  // namespace
}  // namespace croma
