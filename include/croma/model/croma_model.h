#pragma once
// The CroMA model, and the variants the baselines need, as pure functions of one flat
// parameter buffer:
//   e_s : source features -> aligned space   (its own weights)
//   e_t : target features -> aligned space   (its own weights)
//   phi : aligned space  -> N class logits   (the meta-classifier, shared by both modalities)
// Optional parts, when a method needs them:
//   class_head : phi's hidden layer -> C_train logits (Align + Classify's plain classifier of
//                every meta-train class; at test time phi's own N-way output layer, never
//                trained, is the fresh head)
//   decoder    : aligned space -> target features (target autoencoder, reconstruction baselines)
//   domain     : aligned space -> {source, target} (the shared-encoder baselines' domain
//                discriminator)
// With `shared_encoder` (the domain-adaptation baselines) there is one encoder for both
// modalities: e_t is only a linear map from target features into the source feature space,
// and the target path is e_s(map(x_t)).
//
// Each encoder is an MLP over a feature vector (input -> hidden -> embed_dim, ReLU), or, as
// ModelShape's encoder options select, a pool, LSTM or CNN encoder (model/encoder.h) over
// sequences or images. Shared encoders, decoders and domain heads need vector features.
//
// The buffer is laid out so that every group a task adapts is one contiguous range:
//   separate encoders: [e_s | e_t | phi | class_head | decoder | domain]
//   shared encoder:    [map_t | domain | e_s | phi | decoder]
// (the shared discriminator sits between map_t and e_s so that the adversarial task's
// [map_t | domain] and the confusion task's [map_t | domain | e_s] are ranges too).
//
// Embeddings are L2-normalised before they enter phi and the alignment loss: the alignment
// loss only constrains directions, so phi must see the same normalised space for a source
// and a target item to land on the same logits. phi scales its input by sqrt(embed_dim),
// so that a unit vector's coordinates are of order one, as its initialisation assumes.
#include <cstdint>
#include <vector>

#include <memory>
#include <optional>

#include "croma/data/features.h"
#include "croma/model/encoder.h"
#include "croma/model/fast_weights.h"
#include "croma/model/param_layout.h"

namespace croma {

// The model's parts, for code that runs them without CromaModel's forward functions.
enum class ModelPart { kSourceEncoder, kTargetEncoder, kClassifier, kClassHead, kDecoder, kDomainHead };

struct ModelShape {
  std::int64_t source_dim = 0;
  std::int64_t target_dim = 0;
  std::int64_t hidden = 128;
  std::int64_t embed_dim = 64;
  std::int64_t classifier_hidden = 128;
  std::int64_t ways = 5;
  bool shared_encoder = false;
  bool decoder = false;
  bool domain_head = false;
  // Align + Classify's plain classifier: a head of `source_classes` logits over phi's hidden
  // layer (the meta-train classes).
  std::int64_t source_classes = 0;  // 0: no class head
  // Non-vector inputs and their encoders. A vector input of width 0 means source_dim /
  // target_dim; an encoder kind other than mlp needs the matching input (check_encoder_input).
  FeatureSpec source_input, target_input;
  EncoderOptions source_encoder, target_encoder;
};

class CromaModel {
 public:
  explicit CromaModel(const ModelShape& shape);

  const ParamLayout& layout() const { return layout_; }
  const ModelShape& shape() const { return shape_; }
  std::int64_t numel() const { return layout_.numel(); }

  // Parameters only the source path uses (e_s; with a shared encoder, e_s is also on the
  // target path).
  ParamRange source_encoder() const { return source_range_; }
  // Parameters only the target path uses (e_t, or the input map with a shared encoder).
  ParamRange target_encoder() const { return target_range_; }
  // Everything before phi: both encoders (with a shared encoder also the domain head).
  ParamRange encoders() const { return {0, classifier_begin_}; }
  ParamRange classifier() const { return {classifier_begin_, classifier_end_}; }
  // Everything the target path reads: what few-shot fine-tuning adapts.
  ParamRange target_and_classifier() const;
  // Shared encoder only: e_s and phi, what source classification adapts there.
  ParamRange source_and_classifier() const;
  ParamRange decoder() const;
  ParamRange domain_head() const;
  // Shared encoder with a domain head: [map_t | domain], what the adversarial target-map task
  // adapts, and [map_t | domain | e_s], what the domain-confusion task adapts.
  ParamRange target_map_and_domain() const;
  ParamRange target_map_domain_and_encoder() const;
  // phi's hidden layer and the class head (needs shape.source_classes): what the plain
  // classifier of Align + Classify trains. phi's output layer lies inside and gets no gradient.
  ParamRange classifier_with_class_head() const;

  // The Linear layers of a part that is an MLP (Linear-ReLU-...-Linear), in order, where they
  // lie in the flat buffer; nullopt for a part the model lacks or that is not an MLP (a pool,
  // LSTM or CNN encoder). With a shared encoder kTargetEncoder is the linear input map alone
  // (the target path goes on through e_s). The layers of the fused kernels
  // (meta/fused_inner_loop.h).
  std::optional<std::vector<DenseLayer>> mlp_layers(ModelPart part) const;

  // Fresh parameters: PyTorch's nn.Linear default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
  // drawn from the (seed, init) stream on the CPU.
  torch::Tensor initial_parameters(std::uint64_t seed) const;
  // Parameters with distinct values of the right shape (fixed seed), for the self-checks that
  // compare a fused kernel's forward pass with the model's before trusting it.
  torch::Tensor probe_parameters() const { return initial_parameters(20260101); }

  // Normalised embeddings [rows, embed_dim] of a batch of features (a tensor of vectors or
  // images, or sequences with their lengths: data/features.h).
  torch::Tensor embed_source(const Weights& w, const FeatureBatch& x) const;
  torch::Tensor embed_target(const Weights& w, const FeatureBatch& x) const;
  // Whether embed_target and classify run many parameter copies at once: given a Weights of
  // many copies (a FastWeightBatch) and features [copies, rows, dim], they return
  // [copies, rows, ...]. True when the target path is all MLP (a pool, LSTM or CNN target
  // encoder runs one copy at a time).
  bool target_path_batches() const;
  // Logits [rows, ways] from normalised embeddings.
  torch::Tensor classify(const Weights& w, const torch::Tensor& embedding) const;
  // Logits [rows, source_classes]: phi's hidden layer, then the class head.
  torch::Tensor classify_source_classes(const Weights& w, const torch::Tensor& embedding) const;
  // Target features reconstructed from normalised embeddings (needs shape.decoder).
  torch::Tensor decode(const Weights& w, const torch::Tensor& embedding) const;
  // Two logits, source vs target, from normalised embeddings (needs shape.domain_head).
  torch::Tensor domain_logits(const Weights& w, const torch::Tensor& embedding) const;

 private:
  struct Mlp {
    std::vector<std::size_t> weights, biases;  // layout entry indices, one per layer
  };
  Mlp add_mlp(const std::string& prefix, const std::vector<std::int64_t>& dims);
  torch::Tensor run_mlp(const Mlp& mlp, const Weights& w, torch::Tensor x) const;
  torch::Tensor scaled(const torch::Tensor& embedding) const;
  // e_s or e_t before normalisation: the modality's pool/LSTM/CNN encoder, else the MLP.
  torch::Tensor encode(const std::shared_ptr<const Encoder>& encoder, const Mlp& mlp, const Weights& w,
                       const FeatureBatch& x) const;

  ModelShape shape_;
  ParamLayout layout_;
  std::vector<ParamInit> init_;  // one per layout entry
  Mlp source_, target_, classifier_, class_head_, decoder_, domain_;
  std::shared_ptr<const Encoder> source_encoder_, target_encoder_;  // null: the MLP
  ParamRange source_range_, target_range_, class_head_range_, decoder_range_, domain_range_;
  std::int64_t classifier_begin_ = 0, classifier_end_ = 0;
};

}  // namespace croma
