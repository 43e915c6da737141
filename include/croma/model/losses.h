#pragma once
// Losses of meta-alignment and classification.
//
// Alignment (eq. 2 and 3 of the paper) as printed sums raw dot products e_s(x_s)^T e_t(x_t):
// unbounded, so an inner loop can lower it forever by growing the embeddings. croma uses
// the bounded readings that the authors' code and contrastive-learning practice use, on
// L2-normalised embeddings (cosine similarities S = z_s z_t^T):
//
//   margin (default):  L = mean over anchors i of
//                          1/|P_i| * sum_{p in P_i} sum_{n in N_i} relu(margin - S_ip + S_in)
//   infonce:           L = mean over anchors i of
//                          -1/|P_i| * sum_{p in P_i} log softmax_j(S_ij / temperature)_p
//
// Anchors are source rows; P_i are the target rows in the anchor's group (its strong partner,
// or every target item of its weak cluster) and N_i all other target rows. Anchors without a
// positive or without a negative in the minibatch are left out; with none left the loss is 0.
#include <cstdint>

#include "croma/config/options.h"

namespace croma {

torch::Tensor alignment_margin_loss(const torch::Tensor& source_embedding,
                                    const torch::Tensor& target_embedding,
                                    const torch::Tensor& source_groups,
                                    const torch::Tensor& target_groups, double margin);

torch::Tensor alignment_infonce_loss(const torch::Tensor& source_embedding,
                                     const torch::Tensor& target_embedding,
                                     const torch::Tensor& source_groups,
                                     const torch::Tensor& target_groups, double temperature);

// All an alignment loss reads of a run's options (--align-loss, --margin, --temperature).
struct AlignmentLossSettings {
  AlignmentLossSettings(const MetaOptions& o)  // NOLINT: implicit by design, callers pass their options
      : kind(o.align_loss), margin(o.margin), temperature(o.temperature) {}
  AlignLossKind kind;
  double margin;
  double temperature;
};

// The alignment loss a run is configured with.
torch::Tensor alignment_loss(const AlignmentLossSettings& settings, const torch::Tensor& source_embedding,
                             const torch::Tensor& target_embedding, const torch::Tensor& source_groups,
                             const torch::Tensor& target_groups);

// Mean cross-entropy of logits [rows, classes] against int64 labels [rows].
torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels);

// Fraction of rows whose arg-max logit equals the label.
double accuracy(const torch::Tensor& logits, const torch::Tensor& labels);

}  // namespace croma
