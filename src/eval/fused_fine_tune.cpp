#include "croma/eval/fused_fine_tune.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace croma {
namespace {

// The index of the largest of the first `ways` logits of a row, as torch's argmax picks it:
// the first one on ties, a NaN above everything.
std::int64_t argmax(const float* row, std::int64_t ways) {
  std::int64_t best = 0;
  for (std::int64_t c = 1; c < ways; ++c) {
    if (row[c] > row[best] || (std::isnan(row[c]) && !std::isnan(row[best]))) best = c;  // NaN counts as largest
  }
  return best;
}

}  // namespace

std::unique_ptr<FusedFineTune> FusedFineTune::create(const CromaModel& model, const torch::Tensor& target_features,
                                                     bool head_only) {
  if (!encodable_features(target_features) || !model.target_path_batches()) return nullptr;
  const bool shared = model.shape().shared_encoder;
  const auto target = model.mlp_layers(ModelPart::kTargetEncoder);
  const auto source = model.mlp_layers(ModelPart::kSourceEncoder);
  const auto phi = model.mlp_layers(ModelPart::kClassifier);
  if (!target || !phi || (shared && !source)) return nullptr;
  std::vector<std::vector<DenseLayer>> path_layers = {*target};
  if (shared) path_layers.push_back(*source);
  // Where the kernels write gradients: phi's layers, and (unless head-only) the target path's.
  std::vector<ParamRange> written = spans_of(*phi);
  if (!head_only) {
    for (const auto& part : path_layers) {
      for (const auto& r : spans_of(part)) written.push_back(r);
    }
  }
  FineTunedWeights weights(model.numel(), std::move(written),
                           head_only ? model.classifier() : model.target_and_classifier());
  std::unique_ptr<FusedFineTune> out(new FusedFineTune(model, target_features, head_only, std::move(path_layers),
                                                       *phi, std::move(weights)));
  out->support_ = out->make_net();
  out->query_ = out->make_net();
  if (!out->agrees_with_model()) return nullptr;
  return out;
}

FusedFineTune::FusedFineTune(const CromaModel& model, const torch::Tensor& target_features, bool head_only,
                             std::vector<std::vector<DenseLayer>> path_layers, std::vector<DenseLayer> head_layers,
                             FineTunedWeights weights)
    : FusedFineTuning(model, std::move(weights)), features_(target_features), head_only_(head_only),
      path_layers_(std::move(path_layers)), head_layers_(std::move(head_layers)),
      scale_(static_cast<float>(std::sqrt(static_cast<double>(model.shape().embed_dim)))) {}

FusedFineTune::Net FusedFineTune::make_net() const {
  Net net;
  for (const auto& part : path_layers_) {
    net.owned.push_back(std::make_unique<MlpKernel>(part));
    net.owned.back()->bind(weights_.fast(), weights_.grad());
    net.path.push_back(net.owned.back().get());
  }
  net.head = std::make_unique<MlpKernel>(head_layers_);
  net.head->bind(weights_.fast(), weights_.grad());
  return net;
}

bool FusedFineTune::agrees_with_model() {
  start_at_probe();
  const auto rows = std::min<std::int64_t>(4, features_.size(0));
  std::vector<std::int64_t> items(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) items[static_cast<std::size_t>(r)] = r;
  embed(query_, items);
  const float* logits = query_.head->forward();
  const auto fused = torch::from_blob(const_cast<float*>(logits), {rows, query_.head->out()}).clone();
  at::NoGradGuard no_grad;
  const FeatureBatch x(features_.narrow(0, 0, rows));
  const auto& fast = weights_.fast();
  const auto reference = model_.classify(fast, model_.embed_target(fast, x));
  return reference.sizes() == fused.sizes() && torch::allclose(fused, reference, 1e-4, 1e-4);
}

void FusedFineTune::embed(Net& net, const std::vector<std::int64_t>& items) {
  encode(net.path, features_, items, z_, norms_);
  float* in = net.head->input(static_cast<std::int64_t>(items.size()));
  for (std::size_t i = 0; i < z_.size(); ++i) in[i] = z_[i] * scale_;
}

void FusedFineTune::head_forward_and_grad(Net& net, std::int64_t ways, const std::vector<std::int64_t>& labels) {
  const float* logits = net.head->forward();
  const auto rows = static_cast<std::int64_t>(labels.size());
  const auto classes = net.head->out();
  float* dlogits = net.head->output_grad();
  if (ways == classes) {
    cross_entropy_and_grad(logits, rows, classes, labels.data(), dlogits);
    return;
  }
  // The loss reads the first `ways` logits only; the others get no gradient.
  logits_.resize(static_cast<std::size_t>(rows * ways));
  dlogits_.resize(logits_.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    std::memcpy(&logits_[static_cast<std::size_t>(r * ways)], logits + r * classes, sizeof(float) * static_cast<std::size_t>(ways));
  }
  cross_entropy_and_grad(logits_.data(), rows, ways, labels.data(), dlogits_.data());
  std::fill(dlogits, dlogits + rows * classes, 0.0f);
  for (std::int64_t r = 0; r < rows; ++r) {
    std::memcpy(dlogits + r * classes, &dlogits_[static_cast<std::size_t>(r * ways)], sizeof(float) * static_cast<std::size_t>(ways));
  }
}

void FusedFineTune::backward(Net& net) {
  net.head->backward(!head_only_);
  if (head_only_) return;
  const float* din = net.head->input_grad();
  dz_.resize(z_.size());
  for (std::size_t i = 0; i < dz_.size(); ++i) dz_[i] = din[i] * scale_;
  encode_backward(net.path, z_, norms_, dz_);
}

double FusedFineTune::run(const EvalOptions& eval, const FewShotTask& task) {
  if (eval.ways > support_.head->out()) {
    throw std::invalid_argument("FusedFineTune::run: more ways than the classifier has outputs");
  }
  at::NoGradGuard no_grad;
  weights_.restart();
  const AdamSettings settings = fine_tuning_adam(eval.lr);
  // Head-only: the path's weights do not move, so the support embeddings are formed once.
  if (head_only_) embed(support_, task.support_items);
  for (std::int64_t s = 0; s < eval.steps; ++s) {
    if (!head_only_) embed(support_, task.support_items);
    head_forward_and_grad(support_, eval.ways, task.support_labels);
    backward(support_);
    weights_.adam_step(settings);
  }
  embed(query_, task.query_items);
  const float* logits = query_.head->forward();
  const auto classes = query_.head->out();
  std::int64_t correct = 0;
  for (std::size_t r = 0; r < task.query_labels.size(); ++r) {
    correct += argmax(logits + static_cast<std::int64_t>(r) * classes, eval.ways) == task.query_labels[r] ? 1 : 0;
  }
  return static_cast<double>(correct) / static_cast<double>(task.query_labels.size());
}

}  // namespace croma
