#include "croma/data/standardize.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace croma {
namespace {

// Calls visit(feature index, value) for every value of `items` that counts towards a
// feature's statistics, in a fixed order (items, then positions inside an item).
template <class Visit>
void for_each_value(const ModalityData& m, const FeatureSpec& spec, const std::vector<std::int64_t>& items,
                    Visit&& visit) {
  const auto features = m.features.contiguous();
  const float* x = features.data_ptr<float>();
  switch (spec.kind) {
    case FeatureKind::kVector: {
      const auto d = spec.dim;
      for (auto i : items) {
        const float* row = x + i * d;
        for (std::int64_t f = 0; f < d; ++f) visit(f, row[f]);
      }
      break;
    }
    case FeatureKind::kFrames: {
      const auto d = spec.dim, steps = features.size(1);
      const auto lengths = m.lengths.contiguous();
      const auto* len = lengths.data_ptr<std::int64_t>();
      for (auto i : items) {
        for (std::int64_t t = 0; t < len[i]; ++t) {  // valid frames only: padding is no data
          const float* frame = x + (i * steps + t) * d;
          for (std::int64_t f = 0; f < d; ++f) visit(f, frame[f]);
        }
      }
      break;
    }
    case FeatureKind::kImage: {
      const auto channels = spec.dim, pixels = spec.height * spec.width;
      for (auto i : items) {
        for (std::int64_t c = 0; c < channels; ++c) {
          const float* plane = x + (i * channels + c) * pixels;
          for (std::int64_t p = 0; p < pixels; ++p) visit(c, plane[p]);
        }
      }
      break;
    }
    case FeatureKind::kTokens:
      break;
  }
}

std::string describe(const ModalityStandardization& s) {
  return std::to_string(s.mean.size()) + " " + (s.kind == FeatureKind::kImage ? "channels" : "features") + " (" +
         to_string(s.kind) + ")";
}

FeatureKind parse_kind(const std::string& text) {
  for (auto k : {FeatureKind::kVector, FeatureKind::kFrames, FeatureKind::kTokens, FeatureKind::kImage}) {
    if (text == to_string(k)) return k;
  }
  throw StandardizationError("standardisation record: unknown feature kind '" + text + "'");
}

}  // namespace

ModalityStandardization compute_standardization(const ModalityData& m, const std::vector<std::int64_t>& items) {
  const auto spec = m.spec();
  ModalityStandardization s;
  s.kind = spec.kind;
  if (spec.kind == FeatureKind::kTokens) return s;
  const auto n_features = static_cast<std::size_t>(spec.dim);
  std::vector<double> sum(n_features, 0.0), count(n_features, 0.0);
  for_each_value(m, spec, items, [&](std::int64_t f, float v) {
    sum[static_cast<std::size_t>(f)] += v;
    count[static_cast<std::size_t>(f)] += 1;
  });
  s.mean.resize(n_features);
  for (std::size_t f = 0; f < n_features; ++f) s.mean[f] = count[f] > 0 ? sum[f] / count[f] : 0.0;
  // Second pass over the deviations: no cancellation for features far from 0.
  std::vector<double> squares(n_features, 0.0);
  for_each_value(m, spec, items, [&](std::int64_t f, float v) {
    const double d = v - s.mean[static_cast<std::size_t>(f)];
    squares[static_cast<std::size_t>(f)] += d * d;
  });
  s.std.resize(n_features);
  for (std::size_t f = 0; f < n_features; ++f) {
    const double sd = count[f] > 0 ? std::sqrt(squares[f] / count[f]) : 0.0;
    s.std[f] = std::max(sd, kStdFloor * std::max(1.0, std::abs(s.mean[f])));
  }
  return s;
}

FeatureStandardization compute_standardization(const CrossModalDataset& data, const MetaSplit& split) {
  FeatureStandardization s;
  s.source = compute_standardization(data.source, meta_train_source_items(data, split));
  s.target = compute_standardization(data.target, meta_train_target_items(split));
  return s;
}

void apply_standardization(ModalityData& m, const ModalityStandardization& s, const std::string& side) {
  const auto spec = m.spec();
  const auto width = spec.kind == FeatureKind::kTokens ? 0 : spec.dim;
  if (s.kind != spec.kind || static_cast<std::int64_t>(s.mean.size()) != width ||
      s.std.size() != s.mean.size()) {
    throw StandardizationError("the run's standardisation statistics of the " + side + " modality are for " +
                             describe(s) + ", but its data holds " + spec.describe() +
                             " (a checkpoint of another dataset?)");
  }
  if (!s.applies()) return;
  const auto n = static_cast<std::int64_t>(s.mean.size());
  auto mean = torch::tensor(s.mean, torch::kFloat64).to(torch::kFloat32);
  auto scale = torch::tensor(s.std, torch::kFloat64).to(torch::kFloat32);
  switch (spec.kind) {
    case FeatureKind::kVector:
      m.features = (m.features - mean.view({1, n})) / scale.view({1, n});
      break;
    case FeatureKind::kFrames: {
      // Padding stays exactly 0 (it would otherwise become -mean/std).
      const auto valid = sequence_mask(m.lengths, m.features.size(1)).unsqueeze(2);
      m.features = torch::where(valid, (m.features - mean.view({1, 1, n})) / scale.view({1, 1, n}),
                                torch::zeros_like(m.features));
      break;
    }
    case FeatureKind::kImage:
      m.features = (m.features - mean.view({1, n, 1, 1})) / scale.view({1, n, 1, 1});
      break;
    case FeatureKind::kTokens:
      break;
  }
}

void apply_standardization(CrossModalDataset& data, const FeatureStandardization& s) {
  apply_standardization(data.source, s.source, "source");
  apply_standardization(data.target, s.target, "target");
}

namespace {

nlohmann::json modality_json(const ModalityStandardization& s) {
  nlohmann::json j = {{"kind", to_string(s.kind)}};
  if (s.applies()) {
    j["mean"] = s.mean;
    j["std"] = s.std;
  }
  return j;
}

ModalityStandardization modality_from_json(const nlohmann::json& j, const char* side) {
  ModalityStandardization s;
  try {
    s.kind = parse_kind(j.at("kind").get<std::string>());
    if (j.contains("mean")) {
      j.at("mean").get_to(s.mean);
      j.at("std").get_to(s.std);
    }
  } catch (const nlohmann::json::exception& e) {
    throw StandardizationError(std::string("malformed standardisation record of the ") + side + " modality: " + e.what());
  }
  if (s.mean.size() != s.std.size()) {
    throw StandardizationError(std::string("malformed standardisation record of the ") + side + " modality: " +
                             std::to_string(s.mean.size()) + " means but " + std::to_string(s.std.size()) +
                             " deviations");
  }
  for (double v : s.std) {
    if (!(v > 0.0) || !std::isfinite(v)) {
      throw StandardizationError(std::string("malformed standardisation record of the ") + side +
                               " modality: a deviation is not a finite number > 0");
    }
  }
  return s;
}

}  // namespace

void to_json(nlohmann::json& j, const FeatureStandardization& s) {
  j = {{"std_floor", kStdFloor}, {"source", modality_json(s.source)}, {"target", modality_json(s.target)}};
}

void from_json(const nlohmann::json& j, FeatureStandardization& s) {
  if (!j.is_object() || !j.contains("source") || !j.contains("target")) {
    throw StandardizationError("malformed standardisation record: needs 'source' and 'target'");
  }
  s.source = modality_from_json(j.at("source"), "source");
  s.target = modality_from_json(j.at("target"), "target");
}

}  // namespace croma
