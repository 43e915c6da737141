#pragma once
// The training methods croma can run: CroMA and the baselines of the paper's Table 2
// (§5.1 "Baselines", Appendix D.2). A method is a sequence of phases; each phase runs a
// number of meta-steps over a set of inner tasks and moves the meta-parameters by
// epsilon times the mean task delta. epsilon = 1 is plain training (each episode continues
// from the previous one's weights: no meta-learning); epsilon = --meta-lr is Reptile.
//
// Every method gets the same budget: 2 * --steps episodes per task slot, the number CroMA
// spends (one alignment and one classification episode per step).
//
// Each method is declared once, as one row of the table in method.cpp: its name, whether it
// shares one encoder, and its phases with their kinds of task. The traits below, the model
// variant, the phases, the hyperparameter registry (meta/hyperparameters.h) and croma bench
// all read that row.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "croma/config/options.h"
#include "croma/model/croma_model.h"
#include "croma/tasks/inner_task.h"

namespace croma {

enum class Method {
  kCroma,
  kTargetAutoencoder,
  kUnsupMetaRecon,
  kUnsupMetaWeak,
  kAlignClassify,
  kAlignMetaClassify,
  kOracle,
  kShared,
  kSharedAlign,
  kSharedConfusion,
  kSharedTargetLabels,
};

Method parse_method(const std::string& name);  // throws OptionError listing the names
std::string to_string(Method method);
const std::vector<std::string>& method_names();

// Whether the method has an alignment task (a loss over paired source and target items).
bool aligns(Method method);
// Whether it meta-learns (has a Reptile phase, epsilon = --meta-lr); plain phases ignore it.
bool meta_learns(Method method);
// Whether it trains in two phases (alignment first, then classification).
bool two_phases(Method method);

// Meta-train target items whose weak cluster lies inside one class, sorted: reading their
// cluster id is reading their class label (what Table 2's class-pure label count counts).
std::vector<std::int64_t> class_revealing_target_items(const EpisodeSampler& sampler);

// The model variant a method trains (shared encoder, decoder, domain head, class head over
// the `train_classes` meta-train classes).
void configure_model(Method method, std::int64_t train_classes, ModelShape& shape);

// CroMA's inner tasks (alignment, then classification under e_s held at the meta-parameters):
// the tasks a MetaTrainer starts with.
InnerTaskList croma_tasks(const TaskContext& context);

struct Phase {
  std::string name;
  std::int64_t steps = 0;
  double epsilon = 1.0;
  std::function<InnerTaskList(const TaskContext&)> make_tasks;
};

// The phases of `method` for these options. Target labels of meta-train classes, where a
// method reads them, carry symmetric noise at options.meta.label_noise drawn from the seed.
// Throws OptionError where the data cannot support the method as the paper defines it
// (unsup-meta-weak when every weak cluster lies inside one class).
std::vector<Phase> plan_method(Method method, const TrainOptions& options,
                               const EpisodeSampler& sampler);

}  // namespace croma
