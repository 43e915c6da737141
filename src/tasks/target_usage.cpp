#include "croma/tasks/target_usage.h"

#include <stdexcept>

namespace croma {

void TargetUsage::saw(const std::vector<std::int64_t>& items, bool with_labels) {
  for (auto i : items) {
    seen_[static_cast<std::size_t>(i)] = 1;
    if (with_labels) labelled_[static_cast<std::size_t>(i)] = 1;
  }
}

torch::Tensor TargetUsage::as_tensor() const {
  const auto n = static_cast<std::int64_t>(seen_.size());
  auto t = torch::zeros({2 * n}, torch::kFloat32);
  auto* p = t.data_ptr<float>();
  for (std::int64_t i = 0; i < n; ++i) {
    p[i] = seen_[static_cast<std::size_t>(i)];
    p[n + i] = labelled_[static_cast<std::size_t>(i)];
  }
  return t;
}

std::pair<std::int64_t, std::int64_t> TargetUsage::count(const torch::Tensor& reduced) {
  const auto n = reduced.numel() / 2;
  return {(reduced.narrow(0, 0, n) > 0).sum().item<std::int64_t>(),
          (reduced.narrow(0, n, n) > 0).sum().item<std::int64_t>()};
}

std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> TargetUsage::items(
    const torch::Tensor& reduced) {
  const auto n = reduced.numel() / 2;
  const auto* p = reduced.data_ptr<float>();
  std::vector<std::int64_t> seen, labelled;
  for (std::int64_t i = 0; i < n; ++i) {
    if (p[i] > 0) seen.push_back(i);
    if (p[n + i] > 0) labelled.push_back(i);
  }
  return {seen, labelled};
}

void TargetUsage::mark(const std::vector<std::int64_t>& seen, const std::vector<std::int64_t>& labelled) {
  for (auto i : seen) {
    if (i < 0 || i >= static_cast<std::int64_t>(seen_.size())) {
      throw std::runtime_error("checkpoint records target item " + std::to_string(i) +
                               " outside this dataset's " + std::to_string(seen_.size()) + " items");
    }
    seen_[static_cast<std::size_t>(i)] = 1;
  }
  for (auto i : labelled) {
    if (i < 0 || i >= static_cast<std::int64_t>(labelled_.size())) {
      throw std::runtime_error("checkpoint records target item " + std::to_string(i) +
                               " outside this dataset's " + std::to_string(labelled_.size()) + " items");
    }
    labelled_[static_cast<std::size_t>(i)] = 1;
  }
}

}  // namespace croma
