#include "croma/data/cross_modal_dataset.h"

#include <stdexcept>

namespace croma {
namespace {

void check_modality(const char* which, const ModalityData& m, std::int64_t classes,
                    std::int64_t clusters) {
  const std::string name(which);
  if (!m.features.defined() || m.features.dim() != 2) {
    throw std::runtime_error(name + " features must be a 2-D [items, dim] tensor");
  }
  if (m.features.scalar_type() != torch::kFloat32) {
    throw std::runtime_error(name + " features must be float32");
  }
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
}

}  // namespace croma
