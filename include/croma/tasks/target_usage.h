#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace croma {

// What a run's meta-training read of the target modality: items (features) and labels,
// counted at the end like the last column of the paper's Table 2.
class TargetUsage {
 public:
  explicit TargetUsage(std::int64_t target_items) : seen_(target_items, 0), labelled_(target_items, 0) {}
  void saw(const std::vector<std::int64_t>& items, bool with_labels);
  // Per-item flags as floats (1 = used), items then labels, for an allreduce over ranks.
  torch::Tensor as_tensor() const;
  static std::pair<std::int64_t, std::int64_t> count(const torch::Tensor& reduced);
  // Item ids flagged in a reduced tensor: (seen, labelled).
  static std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> items(const torch::Tensor& reduced);
  // Flag these items (restoring a resumed run's record).
  void mark(const std::vector<std::int64_t>& seen, const std::vector<std::int64_t>& labelled);

 private:
  std::vector<char> seen_, labelled_;
};

}  // namespace croma
