#include "croma/model/croma_model.h"

#include <cmath>
#include <stdexcept>

#include "croma/util/rng.h"

namespace croma {

namespace {
// Over the last dimension: rows of [rows, dim], or of every copy in [copies, rows, dim].
torch::Tensor normalise(const torch::Tensor& z) { return z / z.norm(2, -1, true).clamp_min(1e-12); }
}  // namespace

CromaModel::CromaModel(const ModelShape& shape) : shape_(shape) {
  auto& s = shape_;
  // A vector input of width 0 is the plain source_dim / target_dim of the MLP-only model.
  if (s.source_input.kind == FeatureKind::kVector) {
    if (s.source_input.dim == 0) s.source_input.dim = s.source_dim;
    s.source_dim = s.source_input.dim;
  }
  if (s.target_input.kind == FeatureKind::kVector) {
    if (s.target_input.dim == 0) s.target_input.dim = s.target_dim;
    s.target_dim = s.target_input.dim;
  }
  const bool vector_source = s.source_input.kind == FeatureKind::kVector;
  const bool vector_target = s.target_input.kind == FeatureKind::kVector;
  if ((vector_source && s.source_dim < 1) || (vector_target && s.target_dim < 1) || s.hidden < 1 ||
      s.embed_dim < 1 || s.classifier_hidden < 1 || s.ways < 2) {
    throw std::invalid_argument("CromaModel: every dimension must be positive and ways >= 2");
  }
  check_encoder_input("source", s.source_input, s.source_encoder);
  check_encoder_input("target", s.target_input, s.target_encoder);
  if (s.shared_encoder && (!vector_source || !vector_target)) {
    throw OptionError("the shared-encoder methods map target feature vectors into the source's; "
                      "here the modalities have " + s.source_input.describe() + " and " +
                      s.target_input.describe() + " (use separate encoders, e.g. --method croma)");
  }
  if (s.decoder && !vector_target) {
    throw OptionError("this --method reconstructs target feature vectors; the target modality has " +
                      s.target_input.describe());
  }
  LayoutBuilder builder(layout_, init_);
  const auto add_encoder = [&](const std::string& prefix, const FeatureSpec& input,
                               const EncoderOptions& options, Mlp& mlp,
                               std::shared_ptr<const Encoder>& encoder) {
    if (options.kind == EncoderKind::kMlp) {
      mlp = add_mlp(prefix, {input.dim, s.hidden, s.embed_dim});
    } else {
      encoder = make_encoder(builder, prefix, input, options, s.hidden, s.embed_dim);
    }
  };
  const auto range_since = [&](std::int64_t begin) { return ParamRange{begin, layout_.numel()}; };
  if (s.shared_encoder) {
    target_ = add_mlp("map_t", {s.target_dim, s.source_dim});
    target_range_ = range_since(0);
    // The discriminator of the shared methods sits between map_t and e_s: see the header.
    if (s.domain_head) domain_ = add_mlp("domain", {s.embed_dim, s.classifier_hidden, 2});
    domain_range_ = range_since(target_range_.end);
    source_ = add_mlp("e_s", {s.source_dim, s.hidden, s.embed_dim});
    source_range_ = range_since(domain_range_.end);
  } else {
    add_encoder("e_s", s.source_input, s.source_encoder, source_, source_encoder_);
    source_range_ = range_since(0);
    add_encoder("e_t", s.target_input, s.target_encoder, target_, target_encoder_);
    target_range_ = range_since(source_range_.end);
  }
  classifier_begin_ = layout_.numel();
  classifier_ = add_mlp("phi", {s.embed_dim, s.classifier_hidden, s.ways});
  classifier_end_ = layout_.numel();
  if (s.source_classes < 0 || s.source_classes == 1) {
    throw std::invalid_argument("CromaModel: a class head needs at least 2 classes");
  }
  if (s.source_classes > 0) class_head_ = add_mlp("class_head", {s.classifier_hidden, s.source_classes});
  class_head_range_ = range_since(classifier_end_);
  if (s.decoder) decoder_ = add_mlp("decoder", {s.embed_dim, s.hidden, s.target_dim});
  decoder_range_ = range_since(class_head_range_.end);
  if (!s.shared_encoder) {
    if (s.domain_head) domain_ = add_mlp("domain", {s.embed_dim, s.classifier_hidden, 2});
    domain_range_ = range_since(decoder_range_.end);
  }
}

ParamRange CromaModel::target_and_classifier() const {
  return shape_.shared_encoder ? ParamRange{0, classifier_end_}
                               : ParamRange{target_range_.begin, classifier_end_};
}

ParamRange CromaModel::source_and_classifier() const {
  if (!shape_.shared_encoder) {
    throw std::logic_error("source_and_classifier: e_s and phi are contiguous only with a shared encoder");
  }
  return {source_range_.begin, classifier_end_};
}

ParamRange CromaModel::decoder() const {
  if (!shape_.decoder) throw std::logic_error("this model has no decoder");
  return decoder_range_;
}

ParamRange CromaModel::domain_head() const {
  if (!shape_.domain_head) throw std::logic_error("this model has no domain head");
  return domain_range_;
}

ParamRange CromaModel::target_map_and_domain() const {
  if (!shape_.shared_encoder || !shape_.domain_head) {
    throw std::logic_error("target_map_and_domain: needs a shared encoder with a domain head");
  }
  return {target_range_.begin, domain_range_.end};
}

ParamRange CromaModel::target_map_domain_and_encoder() const {
  if (!shape_.shared_encoder || !shape_.domain_head) {
    throw std::logic_error("target_map_domain_and_encoder: needs a shared encoder with a domain head");
  }
  return {target_range_.begin, source_range_.end};
}

ParamRange CromaModel::classifier_with_class_head() const {
  if (shape_.source_classes == 0) throw std::logic_error("this model has no class head");
  return {classifier_begin_, class_head_range_.end};
}

CromaModel::Mlp CromaModel::add_mlp(const std::string& prefix, const std::vector<std::int64_t>& dims) {
  Mlp mlp;
  for (std::size_t l = 0; l + 1 < dims.size(); ++l) {
    const auto base = prefix + "/layer" + std::to_string(l);
    LayoutBuilder builder(layout_, init_);
    mlp.weights.push_back(builder.add(base + "/weight", {dims[l + 1], dims[l]}, ParamInit::fan_in(dims[l])));
    mlp.biases.push_back(builder.add(base + "/bias", {dims[l + 1]}, ParamInit::fan_in(dims[l])));
  }
  return mlp;
}

torch::Tensor CromaModel::run_mlp(const Mlp& mlp, const Weights& w, torch::Tensor x) const {
  for (std::size_t l = 0; l < mlp.weights.size(); ++l) {
    const auto weight = w.entry(layout_, mlp.weights[l]);
    const auto bias = w.entry(layout_, mlp.biases[l]);
    if (weight.dim() == 3) {  // many copies: x [copies, rows, in], weight [copies, out, in]
      x = torch::baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2));
    } else {
      x = torch::addmm(bias, x, weight.t());
    }
    if (l + 1 < mlp.weights.size()) x = torch::relu(x);
  }
  return x;
}

std::optional<std::vector<DenseLayer>> CromaModel::mlp_layers(ModelPart part) const {
  const Mlp* mlp = nullptr;
  switch (part) {
    case ModelPart::kSourceEncoder: mlp = source_encoder_ ? nullptr : &source_; break;
    case ModelPart::kTargetEncoder: mlp = target_encoder_ ? nullptr : &target_; break;
    case ModelPart::kClassifier: mlp = &classifier_; break;
    case ModelPart::kClassHead: mlp = &class_head_; break;
    case ModelPart::kDecoder: mlp = &decoder_; break;
    case ModelPart::kDomainHead: mlp = &domain_; break;
  }
  if (!mlp || mlp->weights.empty()) return std::nullopt;
  std::vector<DenseLayer> layers;
  for (std::size_t l = 0; l < mlp->weights.size(); ++l) {
    const auto& w = layout_.entry(mlp->weights[l]);
    const auto& b = layout_.entry(mlp->biases[l]);
    layers.push_back({w.offset, b.offset, w.shape[1], w.shape[0]});
  }
  return layers;
}

torch::Tensor CromaModel::initial_parameters(std::uint64_t seed) const {
  Rng rng(seed, streams::kInit);
  auto flat = torch::empty({layout_.numel()}, torch::kFloat32);
  auto* p = flat.data_ptr<float>();
  for (std::size_t i = 0; i < layout_.entries().size(); ++i) {
    const auto& e = layout_.entries()[i];
    const auto& init = init_.at(i);
    for (std::int64_t j = 0; j < e.numel; ++j) {
      p[e.offset + j] = static_cast<float>(init.kind == ParamInit::Kind::kUniform
                                               ? (2.0 * rng.uniform() - 1.0) * init.scale
                                               : rng.normal() * init.scale);
    }
  }
  return flat;
}

torch::Tensor CromaModel::encode(const std::shared_ptr<const Encoder>& encoder, const Mlp& mlp,
                                 const Weights& w, const FeatureBatch& x) const {
  return encoder ? encoder->forward(layout_, w, x) : run_mlp(mlp, w, x.values());
}

torch::Tensor CromaModel::embed_source(const Weights& w, const FeatureBatch& x) const {
  return normalise(encode(source_encoder_, source_, w, x));
}

bool CromaModel::target_path_batches() const { return shape_.shared_encoder || !target_encoder_; }

torch::Tensor CromaModel::embed_target(const Weights& w, const FeatureBatch& x) const {
  if (shape_.shared_encoder) return normalise(run_mlp(source_, w, run_mlp(target_, w, x.values())));
  return normalise(encode(target_encoder_, target_, w, x));
}

torch::Tensor CromaModel::scaled(const torch::Tensor& embedding) const {
  // Unit vectors have coordinates of size ~1/sqrt(d); rescale them to ~1, the input scale
  // the heads' initialisation and learning rate assume.
  return embedding * std::sqrt(static_cast<double>(shape_.embed_dim));
}

torch::Tensor CromaModel::classify(const Weights& w, const torch::Tensor& embedding) const {
  return run_mlp(classifier_, w, scaled(embedding));
}

torch::Tensor CromaModel::classify_source_classes(const Weights& w, const torch::Tensor& embedding) const {
  if (shape_.source_classes == 0) throw std::logic_error("this model has no class head");
  // phi's hidden layer (its output layer is the N-way head, left out), then the class head.
  auto h = torch::addmm(w.entry(layout_, classifier_.biases[0]), scaled(embedding),
                        w.entry(layout_, classifier_.weights[0]).t());
  return run_mlp(class_head_, w, torch::relu(h));
}

torch::Tensor CromaModel::decode(const Weights& w, const torch::Tensor& embedding) const {
  if (!shape_.decoder) throw std::logic_error("this model has no decoder");
  return run_mlp(decoder_, w, scaled(embedding));
}

torch::Tensor CromaModel::domain_logits(const Weights& w, const torch::Tensor& embedding) const {
  if (!shape_.domain_head) throw std::logic_error("this model has no domain head");
  return run_mlp(domain_, w, scaled(embedding));
}

}  // namespace croma
