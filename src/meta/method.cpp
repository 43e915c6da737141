#include "croma/meta/method.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "croma/data/label_noise.h"
#include "croma/tasks/alignment_task.h"
#include "croma/tasks/domain_confusion_task.h"
#include "croma/tasks/reconstruction_task.h"
#include "croma/tasks/source_classes_task.h"
#include "croma/tasks/source_classification_task.h"
#include "croma/tasks/target_classification_task.h"

namespace croma {
namespace {

const std::vector<std::pair<Method, std::string>>& table() {
  static const std::vector<std::pair<Method, std::string>> t = {
      {Method::kCroma, "croma"},
      {Method::kTargetAutoencoder, "target-autoencoder"},
      {Method::kUnsupMetaRecon, "unsup-meta-recon"},
      {Method::kUnsupMetaWeak, "unsup-meta-weak"},
      {Method::kAlignClassify, "align-classify"},
      {Method::kAlignMetaClassify, "align-meta-classify"},
      {Method::kOracle, "oracle"},
      {Method::kShared, "shared"},
      {Method::kSharedAlign, "shared-align"},
      {Method::kSharedConfusion, "shared-confusion"},
      {Method::kSharedTargetLabels, "shared-target-labels"},
  };
  return t;
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

}  // namespace

bool aligns(Method m) {
  return m == Method::kCroma || m == Method::kAlignClassify || m == Method::kAlignMetaClassify ||
         m == Method::kSharedAlign;
}
bool meta_learns(Method m) { return m != Method::kTargetAutoencoder && m != Method::kAlignClassify; }
bool two_phases(Method m) { return m == Method::kAlignClassify || m == Method::kAlignMetaClassify; }

std::vector<std::int64_t> class_revealing_target_items(const EpisodeSampler& sampler) {
  return cluster_purity(sampler).revealing_items;
}

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [m, name] : table()) n.push_back(name);
    return n;
  }();
  return names;
}

Method parse_method(const std::string& name) {
  for (const auto& [m, n] : table()) {
    if (n == name) return m;
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
  for (const auto& [m, n] : table()) {
    if (m == method) return n;
  }
  return "?";
}

void configure_model(Method method, std::int64_t train_classes, ModelShape& shape) {
  shape.shared_encoder = method == Method::kShared || method == Method::kSharedAlign ||
                         method == Method::kSharedConfusion || method == Method::kSharedTargetLabels;
  shape.decoder = method == Method::kTargetAutoencoder || method == Method::kUnsupMetaRecon;
  shape.domain_head = method == Method::kShared || method == Method::kSharedConfusion;
  shape.source_classes = method == Method::kAlignClassify ? train_classes : 0;
}

std::vector<Phase> plan_method(Method method, const TrainOptions& o, const EpisodeSampler& sampler) {
  const auto s = o.meta.steps;
  const double reptile = o.meta.meta_lr;
  const double plain = 1.0;
  const auto& split = sampler.split();
  auto align = [](const TaskContext& c) { return std::make_unique<AlignmentTask>(c); };
  auto classify = [](bool adapt_encoder) {
    return [adapt_encoder](const TaskContext& c) {
      return std::make_unique<SourceClassificationTask>(c, adapt_encoder);
    };
  };
  auto tasks = [](auto... makers) {
    return [=](const TaskContext& c) {
      InnerTaskList list;
      (list.push_back(makers(c)), ...);
      return list;
    };
  };
  const auto target_items = flatten(split.train_target_items);
  // The shared methods' domain task (adversarial target map or domain confusion) over the
  // source items of classification and the meta-train target items.
  auto domain = [&split, target_items](DomainObjective objective) {
    return [objective, source_items = flatten(split.classify_source_items), target_items](const TaskContext& c) {
      return std::make_unique<DomainConfusionTask>(c, objective, source_items, target_items);
    };
  };
  const auto target_labels = [&] { return noisy_target_classes(sampler, o.meta.label_noise, o.seed); };
  // Two-phase methods split the 2 * s budget; each phase keeps at least one step.
  const auto first = std::clamp<std::int64_t>(
      static_cast<std::int64_t>(std::llround(2.0 * static_cast<double>(s) * o.meta.first_phase_fraction)), 1,
      std::max<std::int64_t>(1, 2 * s - 1));
  const auto second = std::max<std::int64_t>(1, 2 * s - first);

  switch (method) {
    case Method::kCroma:
      return {{"croma", s, reptile, tasks(align, classify(false))}};
    case Method::kTargetAutoencoder:
      return {{"autoencoder", 2 * s, plain, tasks([target_items](const TaskContext& c) {
                 return std::make_unique<ReconstructionTask>(c, target_items);
               })}};
    case Method::kUnsupMetaRecon:
      return {{"reptile-recon", 2 * s, reptile, tasks([target_items](const TaskContext& c) {
                 return std::make_unique<ReconstructionTask>(c, target_items);
               })}};
    case Method::kUnsupMetaWeak: {
      auto purity = cluster_purity(sampler);
      if (purity.pure == purity.clusters) {
        throw OptionError(
            "--method unsup-meta-weak: each of the " + std::to_string(purity.clusters) +
            " weak clusters of the meta-train target items lies inside one class, so its cluster ids "
            "are class labels and the method would be the oracle under another name; it needs clusters "
            "that span several classes (built-in world: --classes-per-cluster 2 or more)");
      }
      const auto clusters = split.train_target_clusters;
      return {{"reptile-weak-labels", 2 * s, reptile,
               tasks([clusters, revealing = std::move(purity.revealing_items)](const TaskContext& c) {
                 return std::make_unique<TargetClassificationTask>(c, clusters, false, revealing);
               })}};
    }
    case Method::kAlignClassify: {
      const auto by_class = split.classify_source_items;
      return {{"align", first, plain, tasks(align)},
              {"classify-all-classes", second, plain, tasks([by_class](const TaskContext& c) {
                 return std::make_unique<SourceClassesTask>(c, by_class);
               })}};
    }
    case Method::kAlignMetaClassify:
      return {{"align", first, plain, tasks(align)}, {"meta-classify", second, reptile, tasks(classify(false))}};
    case Method::kOracle: {
      const auto groups = target_labels();
      return {{"reptile-target", 2 * s, reptile, tasks([groups](const TaskContext& c) {
                 return std::make_unique<TargetClassificationTask>(c, groups, true);
               })}};
    }
    case Method::kShared:
      return {{"shared", s, reptile, tasks(domain(DomainObjective::kAdversarialMap), classify(true))}};
    case Method::kSharedAlign:
      return {{"shared-align", s, reptile, tasks(align, classify(true))}};
    case Method::kSharedConfusion:
      return {{"shared-confusion", s, reptile, tasks(domain(DomainObjective::kConfusion), classify(true))}};
    case Method::kSharedTargetLabels: {
      const auto groups = target_labels();
      return {{"shared-target-labels", s, reptile,
               tasks(
                   [groups](const TaskContext& c) {
                     return std::make_unique<TargetClassificationTask>(c, groups, true);
                   },
                   classify(true))}};
    }
  }
  throw std::logic_error("plan_method: unhandled method");
}

}  // namespace croma
