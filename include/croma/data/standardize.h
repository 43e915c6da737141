#pragma once
// Feature standardisation: every feature of a modality centred by its mean and divided by its
// standard deviation, both taken over the meta-train items only (meta_train_source_items and
// meta_train_target_items of data/meta_split.h), never over meta-val, meta-test or held-out
// validation items. Imported features reach the encoders at whatever scale they were made
// (log-mel bands with offsets in the tens, unnormalised CNN activations); the encoders' default
// initialisation expects inputs of about unit scale.
//
// What "each feature" means per kind (data/features.h):
//   vector : each of the d columns, over the meta-train items
//   frames : each of the d frame dimensions, over every valid (unpadded) frame of the
//            meta-train items; padding stays 0
//   image  : each channel, over every pixel of the meta-train items
//   tokens : nothing (ids are categories, not magnitudes); the ids are left as they are
//
// The statistics are computed once when a run starts, stored in its config.json (and so in
// every checkpoint's config attribute), and `croma eval` applies the stored values: a later
// change of the data, or a run evaluated on moved shards, sees the very same transform.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "croma/data/cross_modal_dataset.h"
#include "croma/data/meta_split.h"

namespace croma {

// Floor on the deviation a feature is divided by: max(std, kStdFloor * max(1, |mean|)).
// Features are float32, which keeps about 7 significant digits, so a spread below 1e-6 of a
// feature's magnitude (or below 1e-6 absolute for a feature near 0) is rounding noise of the
// stored values, not signal; dividing by it would blow that noise up to unit scale. A
// constant feature has std 0 and is exactly its mean, so it becomes exactly 0, never inf/NaN.
constexpr double kStdFloor = 1e-6;

// Statistics that do not fit the data, or a malformed record of them.
class StandardizationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ModalityStandardization {
  FeatureKind kind = FeatureKind::kVector;
  // One entry per feature (vector), frame dimension (frames) or channel (image); empty for
  // tokens. `std` is the deviation after the floor, i.e. the divisor applied.
  std::vector<double> mean, std;
  bool applies() const { return !mean.empty(); }
};

struct FeatureStandardization {
  ModalityStandardization source, target;
};

// Mean and floored population standard deviation (divisor n) of each feature over `items`,
// accumulated in double in a fixed order, so that every rank and every thread count gets
// the same bits.
ModalityStandardization compute_standardization(const ModalityData& m, const std::vector<std::int64_t>& items);
// Source: meta-train source items; target: meta-train target items not held out.
FeatureStandardization compute_standardization(const CrossModalDataset& data, const MetaSplit& split);

// Replaces m.features by (features - mean) / std, in float32. Throws StandardizationError when
// the statistics do not fit the features (another kind, or another width / channel count);
// `side` ("source", "target") names the modality in the message.
void apply_standardization(ModalityData& m, const ModalityStandardization& s, const std::string& side);
void apply_standardization(CrossModalDataset& data, const FeatureStandardization& s);

void to_json(nlohmann::json& j, const FeatureStandardization& s);
// Throws StandardizationError on a malformed record.
void from_json(const nlohmann::json& j, FeatureStandardization& s);

}  // namespace croma
