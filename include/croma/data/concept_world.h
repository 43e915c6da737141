#pragma once
// The built-in synthetic multimodal "concept world", so that croma runs with no files.
//
// Each item is generated from a latent in two parts:
//   z = c_class + o_cluster + within-noise      (shared concept latent, latent_dim)
//   u_s, u_t ~ N(0, nuisance_scale^2)           (one nuisance latent per modality)
// and rendered into each modality by its own fixed random two-layer network
//   x_s = W2_s tanh(W1_s [z ; u_s] + b1_s) + noise,   x_t likewise with other weights,
// with different output dimensions. A strong pair is one item seen in both modalities;
// `pair_noise` perturbs the target's copy of z, weakening the pairing. The nuisance latent
// is what makes the target modality hard to classify from raw features: it carries as much
// variance as the concept but no label information, and alignment with the source modality
// is what tells an encoder to ignore it.
//
// --source-form / --target-form present a modality's vectors as variable-length sequences of
// frames or token ids, or as images (see present() in concept_world.cpp), for the sequence
// and convolutional encoders; the default "vector" leaves the world exactly as it was.
#include <cstdint>

#include "croma/config/options.h"
#include "croma/data/cross_modal_dataset.h"

namespace croma {

CrossModalDataset generate_concept_world(const WorldOptions& options, std::uint64_t seed);

}  // namespace croma
