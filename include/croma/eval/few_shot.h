#pragma once
// Few-shot classification in the target modality (the paper's meta-test protocol).
//
// For each of a fixed set of N-way k-shot tasks drawn from a seed, start from the target
// encoder e_t and the classifier phi of the given parameters, fine-tune them (or phi only)
// with a fresh Adam on the k*N labelled support items, and measure accuracy on the query
// items. The same seed gives the same tasks, so two parameter sets (say, the untrained start
// and the meta-trained result) are compared on identical tasks.
#include <cstdint>
#include <vector>

#include "croma/config/options.h"
#include "croma/data/episode_sampler.h"
#include "croma/model/croma_model.h"

namespace croma {

struct FewShotResult {
  std::int64_t shots = 0;
  double mean = 0;
  double std = 0;  // over tasks
  std::vector<double> task_accuracy;
};

class FewShotEvaluator {
 public:
  FewShotEvaluator(const CromaModel& model, const EpisodeSampler& sampler, const torch::Device& device);

  // One result per value of eval.shots. `parameters` may live on any device.
  std::vector<FewShotResult> evaluate(const torch::Tensor& parameters, Split split,
                                      const EvalOptions& eval, std::uint64_t seed) const;
  FewShotResult evaluate_shots(const torch::Tensor& parameters, Split split, const EvalOptions& eval,
                               std::int64_t shots, std::uint64_t seed) const;

 private:
  const CromaModel& model_;
  const EpisodeSampler& sampler_;
  torch::Device device_;
  torch::Tensor target_features_;
};

}  // namespace croma
