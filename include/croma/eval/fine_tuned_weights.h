#pragma once
// What the fused fine-tunings of evaluation (eval/fused_fine_tune.h,
// eval/fused_retrieval_fine_tune.h) share: the parameters one task fine-tunes (the start
// every task begins from, the fast copy the kernels read and write, its flat gradient, and
// Adam over the stretches a kernel writes), a base holding them with the model, and
// --eval-fine-tune's choice between the fused and the autograd path.
//
// Only the stretches of the fine-tuned range that some kernel writes a gradient into move: the
// rest of the range keeps zero gradients, where Adam from zero moments leaves the weights
// exactly where they are (the autograd path's arithmetic), so Adam runs on those stretches only.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "croma/config/options.h"
#include "croma/meta/flat_adam.h"
#include "croma/model/croma_model.h"
#include "croma/model/param_layout.h"

namespace croma {

class FineTunedWeights {
 public:
  // `numel` parameters; `written`: where the kernels write gradients (any order, may
  // overlap); `range`: what the task fine-tunes. Adam runs where the two meet.
  FineTunedWeights(std::int64_t numel, std::vector<ParamRange> written, ParamRange range);

  // Every later task starts from these parameters (numel floats, any device).
  void set_start(const torch::Tensor& parameters);
  // Before a task: the adapted stretches back at the start, Adam's moments cleared.
  void restart();
  // One Adam step of every adapted stretch on the gradient the kernels wrote.
  void adam_step(const AdamSettings& settings);

  const torch::Tensor& fast() const { return fast_; }
  const torch::Tensor& grad() const { return grad_; }
  const std::vector<ParamRange>& adapted() const { return adapted_; }

 private:
  std::vector<ParamRange> adapted_;
  torch::Tensor start_, fast_, grad_;
  std::vector<FlatAdam> adam_;  // one per adapted stretch
};

// The base of a fused fine-tuning: the model and the weights it fine-tunes.
class FusedFineTuning {
 public:
  // Every later task starts from these parameters (numel floats, any device).
  void set_start(const torch::Tensor& parameters) { weights_.set_start(parameters); }
  // The fast weights after the last run() (all numel of them).
  const torch::Tensor& weights() const { return weights_.fast(); }

 protected:
  FusedFineTuning(const CromaModel& model, FineTunedWeights weights) : model_(model), weights_(std::move(weights)) {}
  // Starts from the model's probe parameters (CromaModel::probe_parameters), on which create()
  // checks the kernels against the model's own forward functions.
  void start_at_probe() { set_start(model_.probe_parameters()); }

  const CromaModel& model_;
  FineTunedWeights weights_;
};

// --eval-fine-tune (`choice`: auto, fused or autograd): the fused fine-tuning that `create`
// returns (nullptr where it does not apply), unless the autograd path is asked for. With
// "fused", where it does not apply, an OptionError saying that the kernels do not fine-tune
// `what` and what they need.
template <class Create>
auto choose_fused_fine_tuning(const std::string& choice, Create create, const std::string& what,
                              const std::string& needs) -> decltype(create()) {
  decltype(create()) fused = choice == "autograd" ? nullptr : create();
  if (!fused && choice == "fused") {
    throw OptionError("--eval-fine-tune fused: the fused kernels do not fine-tune " + what + " here; they need " +
                      needs + " (use --eval-fine-tune auto or autograd)");
  }
  return fused;
}

}  // namespace croma
