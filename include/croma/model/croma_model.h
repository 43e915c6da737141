#pragma once
// The CroMA model as pure functions of a flat parameter buffer:
//   e_s : source features -> aligned space   (MLP, its own weights)
//   e_t : target features -> aligned space   (MLP, its own weights)
//   phi : aligned space  -> N class logits   (the meta-classifier, shared by both modalities)
// The buffer is laid out [e_s | e_t | phi], so "both encoders", "target encoder and
// classifier" and "classifier" are each one contiguous range.
//
// Embeddings are L2-normalised before they enter phi and the alignment loss: the alignment
// loss only constrains directions, so phi must see the same normalised space for a source
// and a target item to land on the same logits. phi scales its input by sqrt(embed_dim),
// so that a unit vector's coordinates are of order one, as its initialisation assumes.
#include <cstdint>
#include <vector>

#include "croma/model/param_layout.h"

namespace croma {

struct ModelShape {
  std::int64_t source_dim = 0;
  std::int64_t target_dim = 0;
  std::int64_t hidden = 128;
  std::int64_t embed_dim = 64;
  std::int64_t classifier_hidden = 128;
  std::int64_t ways = 5;
};

class CromaModel {
 public:
  explicit CromaModel(const ModelShape& shape);

  const ParamLayout& layout() const { return layout_; }
  const ModelShape& shape() const { return shape_; }
  std::int64_t numel() const { return layout_.numel(); }

  ParamRange source_encoder() const { return {0, target_begin_}; }
  ParamRange target_encoder() const { return {target_begin_, classifier_begin_}; }
  ParamRange encoders() const { return {0, classifier_begin_}; }
  ParamRange classifier() const { return {classifier_begin_, layout_.numel()}; }
  ParamRange target_and_classifier() const { return {target_begin_, layout_.numel()}; }

  // Fresh parameters: PyTorch's nn.Linear default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
  // drawn from the (seed, init) stream on the CPU.
  torch::Tensor initial_parameters(std::uint64_t seed) const;

  // Normalised embeddings [rows, embed_dim].
  torch::Tensor embed_source(const torch::Tensor& flat, const torch::Tensor& x) const;
  torch::Tensor embed_target(const torch::Tensor& flat, const torch::Tensor& x) const;
  // Logits [rows, ways] from normalised embeddings.
  torch::Tensor classify(const torch::Tensor& flat, const torch::Tensor& embedding) const;

 private:
  struct Mlp {
    std::vector<std::size_t> weights, biases;  // layout entry indices, one per layer
  };
  Mlp add_mlp(const std::string& prefix, const std::vector<std::int64_t>& dims);
  torch::Tensor run_mlp(const Mlp& mlp, const torch::Tensor& flat, torch::Tensor x) const;

  ModelShape shape_;
  ParamLayout layout_;
  Mlp source_, target_, classifier_;
  std::int64_t target_begin_ = 0, classifier_begin_ = 0;
};

}  // namespace croma
