#pragma once
// A task the engine does not describe (InnerLoss::kCustom, so it computes its own loss and
// runs on autograd only), without randomness: it pulls phi towards 1 with a quadratic loss.
// Two copies of it in one meta-step adapt the same parameters by the same delta.
#include <string>

#include "croma/tasks/inner_task.h"

namespace croma::testing {

class PullPhiTask : public InnerTask {
 public:
  explicit PullPhiTask(const TaskContext& ctx) : ctx_(ctx) {}
  std::string name() const override { return "custom_pull"; }
  ParamRange range() const override { return ctx_.model.classifier(); }
  void sample(Rng&) override {}
  torch::Tensor step_loss(const Weights& fast, Rng&) override {
    const auto& layout = ctx_.model.layout();
    auto loss = torch::zeros({});
    for (std::size_t i = 0; i < layout.entries().size(); ++i) {
      const auto& e = layout.entries()[i];
      if (e.offset >= range().begin && e.offset < range().end) loss = loss + (fast.entry(layout, i) - 1).pow(2).sum();
    }
    return loss;
  }

 private:
  const TaskContext& ctx_;
};

}  // namespace croma::testing
