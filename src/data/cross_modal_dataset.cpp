#include "croma/data/cross_modal_dataset.h"

#include <stdexcept>

namespace croma {
namespace {

void check_features(const std::string& name, const ModalityData& m) {
  FeatureSpec spec;
  try {
    spec = m.spec();
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(name + ": " + e.what());
  }
  if (spec.kind == FeatureKind::kTokens) {
    if (m.features.numel() > 0) {
      const auto lo = m.features.min().item<std::int64_t>();
      const auto hi = m.features.max().item<std::int64_t>();
      if (lo < 0 || hi >= m.vocab) {
        throw std::runtime_error(name + " token ids span [" + std::to_string(lo) + ", " +
                                 std::to_string(hi) + "], outside the vocabulary [0, " +
                                 std::to_string(m.vocab) + ")");
      }
    }
  }
  if (spec.is_sequence()) {
    if (m.lengths.dim() != 1 || m.lengths.size(0) != m.features.size(0)) {
      throw std::runtime_error(name + ": " + std::to_string(m.features.size(0)) +
                               " sequences but " + std::to_string(m.lengths.numel()) + " lengths");
    }
    if (m.lengths.numel() > 0) {
      const auto shortest = m.lengths.min().item<std::int64_t>();
      const auto longest = m.lengths.max().item<std::int64_t>();
      if (shortest < 1 || longest > m.features.size(1)) {
        throw std::runtime_error(name + " sequence lengths span [" + std::to_string(shortest) + ", " +
                                 std::to_string(longest) + "]; each must be in [1, " +
                                 std::to_string(m.features.size(1)) + "] (the padded length)");
      }
    }
  }
}

void check_modality(const char* which, const ModalityData& m, std::int64_t classes,
                    std::int64_t clusters) {
  const std::string name(which);
  check_features(name, m);
  if (m.features.size(0) != m.size() || static_cast<std::int64_t>(m.clusters.size()) != m.size()) {
    throw std::runtime_error(name + ": " + std::to_string(m.features.size(0)) + " feature rows, " +
                             std::to_string(m.labels.size()) + " labels and " +
                             std::to_string(m.clusters.size()) + " cluster ids disagree");
  }
  for (std::int64_t i = 0; i < m.size(); ++i) {
    const auto label = m.labels[static_cast<std::size_t>(i)];
    const auto cluster = m.clusters[static_cast<std::size_t>(i)];
    if (label < 0 || label >= classes) {
      throw std::runtime_error(name + " item " + std::to_string(i) + " has label " +
                               std::to_string(label) + " outside [0, " + std::to_string(classes) + ")");
    }
    if (cluster < 0 || cluster >= clusters) {
      throw std::runtime_error(name + " item " + std::to_string(i) + " has cluster " +
                               std::to_string(cluster) + " outside [0, " +
                               std::to_string(clusters) + ")");
    }
  }
}

}  // namespace

FeatureSpec ModalityData::spec() const {
  if (!features.defined()) throw std::runtime_error("features are missing");
  const auto d = features.dim();
  const bool is_float = features.scalar_type() == torch::kFloat32;
  const bool is_int = features.scalar_type() == torch::kInt64;
  if (lengths.defined()) {
    if (lengths.scalar_type() != torch::kInt64) throw std::runtime_error("sequence lengths must be int64");
    if (d == 3 && is_float) return FeatureSpec::frames(features.size(2));
    if (d == 2 && is_int) {
      if (vocab < 1) throw std::runtime_error("token-id features need a vocabulary size >= 1");
      return FeatureSpec::tokens(vocab);
    }
    throw std::runtime_error("sequence features must be float32 [items, T, dim] frames or int64 [items, T] token ids");
  }
  if (d == 2 && is_float) return FeatureSpec::vector(features.size(1));
  if (d == 4 && is_float) return FeatureSpec::image(features.size(1), features.size(2), features.size(3));
  throw std::runtime_error("features must be float32 [items, dim] vectors or [items, channels, height, width] "
                           "images, or sequences with lengths");
}

void CrossModalDataset::check_consistent() const {
  if (num_classes < 1) throw std::runtime_error("dataset '" + name + "' has no classes");
  check_modality("source", source, num_classes, num_clusters);
  check_modality("target", target, num_classes, num_clusters);
  for (const auto& [s, t] : pairs) {
    if (s < 0 || s >= source.size() || t < 0 || t >= target.size()) {
      throw std::runtime_error("strong pair (" + std::to_string(s) + ", " + std::to_string(t) +
                               ") indexes past the " + std::to_string(source.size()) +
                               " source / " + std::to_string(target.size()) + " target items");
    }
  }
  check_pairs_within_classes(*this);
}

void check_pairs_within_classes(const CrossModalDataset& data) {
  for (std::size_t p = 0; p < data.pairs.size(); ++p) {
    const auto [s, t] = data.pairs[p];
    const auto source_class = data.source.labels.at(static_cast<std::size_t>(s));
    const auto target_class = data.target.labels.at(static_cast<std::size_t>(t));
    if (source_class != target_class) {
      throw std::runtime_error("strong pair " + std::to_string(p) + " joins source item " + std::to_string(s) +
                               " of class " + std::to_string(source_class) + " and target item " +
                               std::to_string(t) + " of class " + std::to_string(target_class) +
                               "; a pair must join two items of one class (a pair is split by its source "
                               "class, so it could carry a meta-val or meta-test item into meta-training)");
    }
  }
}

}  // namespace croma
