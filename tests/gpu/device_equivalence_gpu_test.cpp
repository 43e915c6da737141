// One meta-training run of each configuration on the device under test (gpu_test_device.h)
// equals the same run on the CPU, within float tolerance: CroMA, three baselines, an LSTM and
// a CNN encoder. The GPU runs the autograd inner loop (the fused kernels are CPU code), in
// float32 with other summation orders, so the CPU side runs the CPU default (fused where it
// applies) and the comparison is at tolerance, not bit for bit:
//   every step's mean inner loss:  |device - cpu| <= 1e-3 * max(1, |cpu|)
//   the meta-parameters at the end: max |device - cpu| <= 2e-3 * max |cpu - start|
// (the CPU's own fused and autograd loops agree to 1e-4 and 1e-3 of that: meta/fused_inner_loop_test).
// Each test prints a "measured:" line with the ratio it found, which gpu_check.sh records.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "croma/meta/experiment.h"
#include "croma/meta/meta_trainer.h"
#include "croma/meta/method.h"
#include "gpu/gpu_test_device.h"
#include "test_support.h"

namespace croma {
namespace {

struct Config {
  std::string name;
  std::vector<std::string> args;  // `croma train` options beyond the small world below
};

// ctest's test names carry the parameter as GoogleTest prints it: its name, not its bytes.
void PrintTo(const Config& config, std::ostream* os) { *os << config.name; }

std::vector<std::string> small_world() {
  return {"--seed", "7", "--concepts", "16", "--samples-per-concept", "12", "--latent-dim", "4",
          "--nuisance-dim", "2", "--source-dim", "12", "--target-dim", "10", "--min-frames", "2",
          "--max-frames", "6", "--frame-dim", "4", "--vocab", "16", "--image-size", "6",
          "--image-channels", "1", "--hidden", "16", "--embed-dim", "8", "--classifier-hidden", "8",
          "--lstm-hidden", "8", "--token-embedding", "6", "--cnn-channels", "4,6", "--ways", "3",
          "--shots", "2", "--steps", "3", "--tasks-per-rank", "2", "--quiet"};
}

struct TrainedRun {
  std::vector<StepStats> steps;
  torch::Tensor start, end;
};

TrainedRun train(const TrainOptions& o, const Experiment& exp, const torch::Device& device, bool allow_fused) {
  const auto comm = Communicator::self();
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, device);
  trainer.set_fused_inner_loop(allow_fused);
  TrainedRun r;
  r.start = exp.model().initial_parameters(o.seed);
  trainer.set_meta_parameters(r.start);
  for (auto& phase : plan_method(parse_method(o.meta.method), o, exp.sampler())) {
    trainer.set_tasks(phase.make_tasks(trainer.context()), phase.epsilon);
    for (std::int64_t s = 0; s < phase.steps; ++s) r.steps.push_back(trainer.step());
  }
  r.end = trainer.meta_parameters();
  return r;
}

class DeviceEqualsCpu : public ::testing::TestWithParam<Config> {};

TEST_P(DeviceEqualsCpu, SameLossesAndMetaParameters) {
  CROMA_DEVICE_UNDER_TEST(device);
  auto args = small_world();
  args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
  const TrainOptions o = testing::parse_train_args(args);
  Experiment exp(o);
  const TrainedRun cpu = train(o, exp, torch::kCPU, true);
  // On cuda the fused loop never applies; on the CPU rehearsal this puts the device side on
  // the GPU's code path.
  const TrainedRun dev = train(o, exp, device, false);
  ASSERT_EQ(dev.steps.size(), cpu.steps.size());
  double worst_loss = 0;
  for (std::size_t s = 0; s < cpu.steps.size(); ++s) {
    ASSERT_EQ(dev.steps[s].losses.size(), cpu.steps[s].losses.size());
    for (std::size_t t = 0; t < cpu.steps[s].losses.size(); ++t) {
      const double a = dev.steps[s].losses[t].second, b = cpu.steps[s].losses[t].second;
      const double rel = std::abs(a - b) / std::max(1.0, std::abs(b));
      worst_loss = std::max(worst_loss, rel);
      EXPECT_LE(rel, 1e-3) << cpu.steps[s].losses[t].first << " loss at step " << s << ": " << a << " on "
                           << device << ", " << b << " on the CPU";
    }
    EXPECT_EQ(dev.steps[s].episodes, cpu.steps[s].episodes);
  }
  const double moved = (cpu.end - cpu.start).abs().max().item<double>();
  const double diff = (dev.end - cpu.end).abs().max().item<double>();
  ASSERT_GT(moved, 0.0) << "the run must move the meta-parameters for the comparison to mean anything";
  EXPECT_TRUE(torch::isfinite(dev.end).all().item<bool>());
  EXPECT_LE(diff, 2e-3 * moved) << "meta-parameters moved " << moved << " on the CPU; " << device
                                << " differs from the CPU by " << diff;
  std::printf("measured: %s on %s: max parameter difference / max CPU move = %.3g, worst loss difference = %.3g\n",
              GetParam().name.c_str(), device.str().c_str(), diff / moved, worst_loss);
  RecordProperty("parameter_difference_over_move", std::to_string(diff / moved));
  RecordProperty("worst_relative_loss_difference", std::to_string(worst_loss));
}

INSTANTIATE_TEST_SUITE_P(
    Configs, DeviceEqualsCpu,
    ::testing::Values(Config{"croma_mlp", {"--method", "croma"}},
                      Config{"target_autoencoder", {"--method", "target-autoencoder"}},
                      Config{"oracle", {"--method", "oracle"}},
                      Config{"shared", {"--method", "shared"}},
                      Config{"croma_lstm",
                             {"--source-form", "tokens", "--source-encoder", "lstm", "--lstm-directions", "bi",
                              "--target-form", "frames", "--target-encoder", "lstm", "--seq-pool", "max"}},
                      Config{"croma_cnn", {"--target-form", "image", "--target-encoder", "cnn"}}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace croma
