#pragma once
// The domain-adaptation baselines' use of unlabelled target items (paper Appendix D.2), with
// a domain discriminator D on the shared encoder's embeddings. Each inner step of an episode
// of source and target items of meta-train classes minimises the sum of
//   D's loss:       cross-entropy of D(z) against the true domain of every item, with the
//                   embeddings held fixed (only D learns from it), and
//   the encoder's:  with D held fixed (only the encoder learns from it),
//     kAdversarialMap ("Shared", after ADDA, Tzeng et al. 2017 [59]): cross-entropy of
//       D(z_t) against "source" (the inverted label) over the target items; the task adapts
//       [map_t | domain], so only the target input map learns to pass for source data;
//     kConfusion ("Shared + Domain confusion", after Tzeng et al. [60] and their 2015
//       domain-confusion loss): cross-entropy of D(z) against the uniform distribution over
//       both domains, for source and target items; the task adapts [map_t | domain | e_s].
#include <cstdint>
#include <string>
#include <vector>

#include "croma/tasks/inner_task.h"

namespace croma {

enum class DomainObjective { kAdversarialMap, kConfusion };

class DomainConfusionTask : public InnerTask {
 public:
  DomainConfusionTask(const TaskContext& ctx, DomainObjective objective, std::vector<std::int64_t> source_items,
                      std::vector<std::int64_t> target_items)
      : ctx_(ctx), objective_(objective), source_items_(std::move(source_items)),
        target_items_(std::move(target_items)) {}
  std::string name() const override {
    return objective_ == DomainObjective::kConfusion ? "confusion" : "adversarial";
  }
  ParamRange range() const override {
    return objective_ == DomainObjective::kConfusion ? ctx_.model.target_map_domain_and_encoder()
                                                     : ctx_.model.target_map_and_domain();
  }
  // Source rows then target rows, each minibatch drawn on its own.
  InnerProblem problem() const override {
    return {objective_ == DomainObjective::kConfusion ? InnerLoss::kDomainConfusion : InnerLoss::kDomainAdversarial,
            RowPath::kSource, RowPath::kTarget, ctx_.meta.inner_batch};
  }
  void sample(Rng& rng) override;

 private:
  const TaskContext& ctx_;
  DomainObjective objective_;
  std::vector<std::int64_t> source_items_, target_items_;
};

}  // namespace croma
