#include "croma/data/features.h"

#include <stdexcept>

namespace croma {

const char* to_string(FeatureKind kind) {
  switch (kind) {
    case FeatureKind::kVector: return "vector";
    case FeatureKind::kFrames: return "frames";
    case FeatureKind::kTokens: return "tokens";
    case FeatureKind::kImage: return "image";
  }
  return "?";
}

std::string FeatureSpec::describe() const {
  switch (kind) {
    case FeatureKind::kVector: return "vectors of " + std::to_string(dim);
    case FeatureKind::kFrames: return "sequences of " + std::to_string(dim) + "-dim frames";
    case FeatureKind::kTokens: return "token-id sequences (ids < " + std::to_string(vocab) + ")";
    case FeatureKind::kImage:
      return "images " + std::to_string(dim) + "x" + std::to_string(height) + "x" + std::to_string(width);
  }
  return "?";
}

FeatureBatch FeatureBatch::index_select(std::int64_t dim, const torch::Tensor& index) const {
  if (dim != 0) throw std::invalid_argument("FeatureBatch::index_select: rows only (dim 0)");
  if (!has_lengths()) return FeatureBatch(values_.index_select(0, index));
  return {values_.index_select(0, index), lengths_.index_select(0, index.to(lengths_.device()))};
}

FeatureBatch FeatureBatch::to(const torch::Device& device) const {
  if (!has_lengths()) return FeatureBatch(values_.to(device));
  return {values_.to(device), lengths_.to(device)};
}

FeatureBatch gather_rows(const FeatureBatch& batch, const std::vector<std::int64_t>& ids) {
  const auto index = torch::tensor(ids, torch::kInt64).to(batch.values().device());
  auto rows = batch.index_select(0, index);
  if (!rows.has_lengths() || ids.empty()) return rows;
  const auto longest = rows.lengths().max().item<std::int64_t>();
  return {rows.values().narrow(1, 0, longest), rows.lengths()};
}

torch::Tensor sequence_mask(const torch::Tensor& lengths, std::int64_t steps) {
  const auto t = torch::arange(steps, lengths.options());
  return t.unsqueeze(0) < lengths.unsqueeze(1);
}

}  // namespace croma
