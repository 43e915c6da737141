#include "croma/meta/method.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <stdexcept>

#include "croma/data/label_noise.h"
#include "croma/tasks/alignment_task.h"
#include "croma/tasks/domain_confusion_task.h"
#include "croma/tasks/reconstruction_task.h"
#include "croma/tasks/source_classes_task.h"
#include "croma/tasks/source_classification_task.h"
#include "croma/tasks/target_classification_task.h"

namespace croma {
namespace {

// The kinds of inner task the methods combine.
enum class TaskKind {
  kAlign,                   // AlignmentTask over paired source and target items
  kClassify,                // SourceClassificationTask, e_s held at the meta-parameters
  kClassifyThroughEncoder,  // SourceClassificationTask adapting the shared encoder too
  kReconstruct,             // ReconstructionTask over the meta-train target items
  kWeakClusters,            // TargetClassificationTask over the weak clusters
  kTargetLabels,            // TargetClassificationTask over the (noisy) target labels
  kSourceClasses,           // SourceClassesTask: every meta-train class at once
  kAdversarialMap,          // DomainConfusionTask, the target map passing for source
  kDomainConfusion,         // DomainConfusionTask, both domains confused
};

// How many meta-steps a phase gets of the budget of 2 * --steps episodes per task slot.
enum class Budget {
  kSteps,        // --steps: each meta-step runs two tasks
  kTwiceSteps,   // 2 * --steps: one task per meta-step
  kFirstShare,   // the first of two phases: --first-phase-fraction of 2 * --steps
  kSecondShare,  // the second: the rest
};

struct PhaseRecipe {
  const char* name;
  Budget budget;
  bool reptile;  // epsilon = --meta-lr; else 1 (plain training)
  std::vector<TaskKind> tasks;
};

// Each method once: its name, whether it shares one encoder across the modalities, and its
// phases. Everything else about a method (its traits, its model variant, its tasks) is
// read from its row.
struct MethodRecipe {
  Method method;
  const char* name;
  bool shared_encoder;
  std::vector<PhaseRecipe> phases;
};

const std::vector<MethodRecipe>& recipes() {
  using K = TaskKind;
  using B = Budget;
  static const std::vector<MethodRecipe> r = {
      {Method::kCroma, "croma", false, {{"croma", B::kSteps, true, {K::kAlign, K::kClassify}}}},
      {Method::kTargetAutoencoder, "target-autoencoder", false,
       {{"autoencoder", B::kTwiceSteps, false, {K::kReconstruct}}}},
      {Method::kUnsupMetaRecon, "unsup-meta-recon", false,
       {{"reptile-recon", B::kTwiceSteps, true, {K::kReconstruct}}}},
      {Method::kUnsupMetaWeak, "unsup-meta-weak", false,
       {{"reptile-weak-labels", B::kTwiceSteps, true, {K::kWeakClusters}}}},
      {Method::kAlignClassify, "align-classify", false,
       {{"align", B::kFirstShare, false, {K::kAlign}},
        {"classify-all-classes", B::kSecondShare, false, {K::kSourceClasses}}}},
      {Method::kAlignMetaClassify, "align-meta-classify", false,
       {{"align", B::kFirstShare, false, {K::kAlign}}, {"meta-classify", B::kSecondShare, true, {K::kClassify}}}},
      {Method::kOracle, "oracle", false, {{"reptile-target", B::kTwiceSteps, true, {K::kTargetLabels}}}},
      {Method::kShared, "shared", true,
       {{"shared", B::kSteps, true, {K::kAdversarialMap, K::kClassifyThroughEncoder}}}},
      {Method::kSharedAlign, "shared-align", true,
       {{"shared-align", B::kSteps, true, {K::kAlign, K::kClassifyThroughEncoder}}}},
      {Method::kSharedConfusion, "shared-confusion", true,
       {{"shared-confusion", B::kSteps, true, {K::kDomainConfusion, K::kClassifyThroughEncoder}}}},
      {Method::kSharedTargetLabels, "shared-target-labels", true,
       {{"shared-target-labels", B::kSteps, true, {K::kTargetLabels, K::kClassifyThroughEncoder}}}},
  };
  return r;
}

const MethodRecipe& recipe(Method method) {
  for (const auto& r : recipes()) {
    if (r.method == method) return r;
  }
  throw std::logic_error("method.cpp: a method without a recipe");
}

// Whether any task of any phase of `method` is of one of these kinds.
bool has_task(Method method, std::initializer_list<TaskKind> kinds) {
  for (const auto& phase : recipe(method).phases) {
    for (const auto kind : phase.tasks) {
      if (std::find(kinds.begin(), kinds.end(), kind) != kinds.end()) return true;
    }
  }
  return false;
}

std::vector<std::int64_t> flatten(const std::vector<std::vector<std::int64_t>>& groups) {
  std::vector<std::int64_t> out;
  for (const auto& g : groups) out.insert(out.end(), g.begin(), g.end());
  return out;
}

// Meta-train target items grouped by their label after symmetric noise over the meta-train
// classes (the oracle's view of the target modality).
std::vector<std::vector<std::int64_t>> noisy_target_classes(const EpisodeSampler& sampler,
                                                            double noise, std::uint64_t seed) {
  const auto& by_class = sampler.split().train_target_items;
  std::vector<std::int64_t> items, labels;
  for (std::size_t c = 0; c < by_class.size(); ++c) {
    for (auto item : by_class[c]) {
      items.push_back(item);
      labels.push_back(static_cast<std::int64_t>(c));
    }
  }
  Rng rng(seed, streams::kLabelNoise);
  const auto noisy = symmetric_label_noise(labels, static_cast<std::int64_t>(by_class.size()), noise, rng);
  std::vector<std::vector<std::int64_t>> groups(by_class.size());
  for (std::size_t i = 0; i < items.size(); ++i) groups[static_cast<std::size_t>(noisy[i])].push_back(items[i]);
  return groups;
}

// Weak clusters of meta-train target items that lie inside one class reveal that class: an
// N-way task over such clusters is an N-way task over classes. Returns the items of those
// clusters (sorted) and how many clusters there are in all / inside one class.
struct ClusterPurity {
  std::vector<std::int64_t> revealing_items;
  std::size_t clusters = 0, pure = 0;
};
ClusterPurity cluster_purity(const EpisodeSampler& sampler) {
  ClusterPurity out;
  const auto& labels = sampler.data().target.labels;
  for (const auto& cluster : sampler.split().train_target_clusters) {
    if (cluster.empty()) continue;
    ++out.clusters;
    const auto first = labels[static_cast<std::size_t>(cluster.front())];
    const bool pure = std::all_of(cluster.begin(), cluster.end(),
                                  [&](std::int64_t i) { return labels[static_cast<std::size_t>(i)] == first; });
    if (!pure) continue;
    ++out.pure;
    out.revealing_items.insert(out.revealing_items.end(), cluster.begin(), cluster.end());
  }
  std::sort(out.revealing_items.begin(), out.revealing_items.end());
  return out;
}

using TaskMaker = std::function<std::unique_ptr<InnerTask>(const TaskContext&)>;

// The kinds that need nothing but the context; nullptr for the others.
std::unique_ptr<InnerTask> context_task(TaskKind kind, const TaskContext& c) {
  switch (kind) {
    case TaskKind::kAlign: return std::make_unique<AlignmentTask>(c);
    case TaskKind::kClassify: return std::make_unique<SourceClassificationTask>(c, false);
    case TaskKind::kClassifyThroughEncoder: return std::make_unique<SourceClassificationTask>(c, true);
    default: return nullptr;
  }
}

// The maker of one kind of task under these options, with what it reads of the split.
TaskMaker task_maker(TaskKind kind, const TrainOptions& o, const EpisodeSampler& sampler) {
  const auto& split = sampler.split();
  switch (kind) {
    case TaskKind::kAlign:
    case TaskKind::kClassify:
    case TaskKind::kClassifyThroughEncoder:
      return [kind](const TaskContext& c) { return context_task(kind, c); };
    case TaskKind::kReconstruct:
      return [target_items = flatten(split.train_target_items)](const TaskContext& c) {
        return std::make_unique<ReconstructionTask>(c, target_items);
      };
    case TaskKind::kWeakClusters: {
      auto purity = cluster_purity(sampler);
      if (purity.pure == purity.clusters) {
        throw OptionError(
            "--method unsup-meta-weak: each of the " + std::to_string(purity.clusters) +
            " weak clusters of the meta-train target items lies inside one class, so its cluster ids "
            "are class labels and the method would be the oracle under another name; it needs clusters "
            "that span several classes (built-in world: --classes-per-cluster 2 or more)");
      }
      return [clusters = split.train_target_clusters,
              revealing = std::move(purity.revealing_items)](const TaskContext& c) {
        return std::make_unique<TargetClassificationTask>(c, clusters, false, revealing);
      };
    }
    case TaskKind::kTargetLabels:
      return [groups = noisy_target_classes(sampler, o.meta.label_noise, o.seed)](const TaskContext& c) {
        return std::make_unique<TargetClassificationTask>(c, groups, true);
      };
    case TaskKind::kSourceClasses:
      return [by_class = split.classify_source_items](const TaskContext& c) {
        return std::make_unique<SourceClassesTask>(c, by_class);
      };
    case TaskKind::kAdversarialMap:
    case TaskKind::kDomainConfusion: {
      // The shared methods' domain task over the source items of classification and the
      // meta-train target items.
      const auto objective =
          kind == TaskKind::kAdversarialMap ? DomainObjective::kAdversarialMap : DomainObjective::kConfusion;
      return [objective, source_items = flatten(split.classify_source_items),
              target_items = flatten(split.train_target_items)](const TaskContext& c) {
        return std::make_unique<DomainConfusionTask>(c, objective, source_items, target_items);
      };
    }
  }
  throw std::logic_error("method.cpp: unhandled task kind");
}

}  // namespace

bool aligns(Method m) { return has_task(m, {TaskKind::kAlign}); }
bool meta_learns(Method m) {
  const auto& phases = recipe(m).phases;
  return std::any_of(phases.begin(), phases.end(), [](const PhaseRecipe& p) { return p.reptile; });
}
bool two_phases(Method m) { return recipe(m).phases.size() == 2; }

std::vector<std::int64_t> class_revealing_target_items(const EpisodeSampler& sampler) {
  return cluster_purity(sampler).revealing_items;
}

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& r : recipes()) n.push_back(r.name);
    return n;
  }();
  return names;
}

Method parse_method(const std::string& name) {
  for (const auto& r : recipes()) {
    if (r.name == name) return r.method;
  }
  if (name == "unimodal-pretrain") {
    throw OptionError("--method unimodal-pretrain was renamed target-autoencoder (an autoencoder on "
                      "meta-train target items); the paper's \"Unimodal pre-training\" row is the untrained "
                      "start that croma eval reports for every run");
  }
  std::string allowed;
  for (const auto& n : method_names()) allowed += (allowed.empty() ? "" : ", ") + n;
  throw OptionError("invalid value for --method: '" + name + "' (allowed: " + allowed + ")");
}

std::string to_string(Method method) {
  for (const auto& r : recipes()) {
    if (r.method == method) return r.name;
  }
  return "?";
}

void configure_model(Method method, std::int64_t train_classes, ModelShape& shape) {
  shape.shared_encoder = recipe(method).shared_encoder;
  shape.decoder = has_task(method, {TaskKind::kReconstruct});
  shape.domain_head = has_task(method, {TaskKind::kAdversarialMap, TaskKind::kDomainConfusion});
  shape.source_classes = has_task(method, {TaskKind::kSourceClasses}) ? train_classes : 0;
}

InnerTaskList croma_tasks(const TaskContext& context) {
  InnerTaskList list;
  for (const auto kind : recipe(Method::kCroma).phases.front().tasks) list.push_back(context_task(kind, context));
  return list;
}

std::vector<Phase> plan_method(Method method, const TrainOptions& o, const EpisodeSampler& sampler) {
  const auto s = o.meta.steps;
  // Two-phase methods split the 2 * s budget; each phase keeps at least one step.
  const auto first = std::clamp<std::int64_t>(
      static_cast<std::int64_t>(std::llround(2.0 * static_cast<double>(s) * o.meta.first_phase_fraction)), 1,
      std::max<std::int64_t>(1, 2 * s - 1));
  const auto second = std::max<std::int64_t>(1, 2 * s - first);
  std::vector<Phase> phases;
  for (const auto& p : recipe(method).phases) {
    std::vector<TaskMaker> makers;
    for (const auto kind : p.tasks) makers.push_back(task_maker(kind, o, sampler));
    const std::int64_t steps = p.budget == Budget::kSteps        ? s
                               : p.budget == Budget::kTwiceSteps ? 2 * s
                               : p.budget == Budget::kFirstShare ? first
                                                                 : second;
    phases.push_back({p.name, steps, p.reptile ? o.meta.meta_lr : 1.0, [makers](const TaskContext& c) {
                        InnerTaskList list;
                        for (const auto& make : makers) list.push_back(make(c));
                        return list;
                      }});
  }
  return phases;
}

}  // namespace croma
