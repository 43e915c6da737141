#include "croma/eval/fused_retrieval_fine_tune.h"

#include <algorithm>
#include <stdexcept>

namespace croma {
namespace {

// Cosine similarities of normalised rows: a [rows_a, cols] by [rows_b, cols] -> [rows_a, rows_b].
torch::Tensor similarities(const std::vector<float>& a, const std::vector<float>& b, std::int64_t cols) {
  const auto ra = static_cast<std::int64_t>(a.size()) / cols;
  const auto rb = static_cast<std::int64_t>(b.size()) / cols;
  const auto ta = torch::from_blob(const_cast<float*>(a.data()), {ra, cols});
  const auto tb = torch::from_blob(const_cast<float*>(b.data()), {rb, cols});
  return ta.matmul(tb.t());  // a new tensor: the blobs are scratch
}

}  // namespace

std::unique_ptr<FusedRetrievalFineTune> FusedRetrievalFineTune::create(const CromaModel& model,
                                                                       const AlignmentLossSettings& alignment,
                                                                       const torch::Tensor& source_features,
                                                                       const torch::Tensor& target_features) {
  if (!encodable_features(source_features) || !encodable_features(target_features)) return nullptr;
  const auto source = model.mlp_layers(ModelPart::kSourceEncoder);
  const auto target = model.mlp_layers(ModelPart::kTargetEncoder);
  if (!source || !target) return nullptr;
  // Retrieval fine-tunes the encoders' range; the kernels write gradients into e_s and the
  // target path (e_t, or the input map), and nowhere else in it.
  std::vector<ParamRange> written = spans_of(*source);
  for (const auto& r : spans_of(*target)) written.push_back(r);
  FineTunedWeights weights(model.numel(), std::move(written), model.encoders());
  std::unique_ptr<FusedRetrievalFineTune> out(new FusedRetrievalFineTune(
      model, alignment, source_features, target_features, *source, *target, std::move(weights)));
  out->support_ = out->make_net();
  out->query_ = out->make_net();
  if (!out->agrees_with_model()) return nullptr;
  return out;
}

FusedRetrievalFineTune::FusedRetrievalFineTune(const CromaModel& model, const AlignmentLossSettings& alignment,
                                               const torch::Tensor& source_features,
                                               const torch::Tensor& target_features,
                                               std::vector<DenseLayer> source_layers,
                                               std::vector<DenseLayer> target_layers, FineTunedWeights weights)
    : FusedFineTuning(model, std::move(weights)), alignment_(alignment), source_features_(source_features),
      target_features_(target_features), source_layers_(std::move(source_layers)),
      target_layers_(std::move(target_layers)), shared_(model.shape().shared_encoder) {}

FusedRetrievalFineTune::Net FusedRetrievalFineTune::make_net() const {
  Net net;
  auto add = [&](const std::vector<DenseLayer>& layers) {
    net.owned.push_back(std::make_unique<MlpKernel>(layers));
    net.owned.back()->bind(weights_.fast(), weights_.grad());
    return net.owned.back().get();
  };
  net.source = {add(source_layers_)};
  net.target = {add(target_layers_)};
  if (shared_) {
    // e_s once more behind the input map: the source path's backward runs first and writes
    // e_s's gradient, this one adds to it (as the fused training loop's alignment step).
    net.target.push_back(add(source_layers_));
    net.target.back()->set_accumulate(true);
  }
  return net;
}

void FusedRetrievalFineTune::embed(Net& net, const std::vector<std::int64_t>& source_items,
                                   const std::vector<std::int64_t>& target_items) {
  encode(net.source, source_features_, source_items, zs_, ns_);
  encode(net.target, target_features_, target_items, zt_, nt_);
}

bool FusedRetrievalFineTune::agrees_with_model() {
  start_at_probe();
  const auto rows_s = std::min<std::int64_t>(4, source_features_.size(0));
  const auto rows_t = std::min<std::int64_t>(4, target_features_.size(0));
  std::vector<std::int64_t> is(static_cast<std::size_t>(rows_s)), it(static_cast<std::size_t>(rows_t));
  for (std::int64_t r = 0; r < rows_s; ++r) is[static_cast<std::size_t>(r)] = r;
  for (std::int64_t r = 0; r < rows_t; ++r) it[static_cast<std::size_t>(r)] = r;
  embed(query_, is, it);
  const auto cols = query_.source.back()->out();
  if (query_.target.back()->out() != cols) return false;
  const auto fused_s = torch::from_blob(zs_.data(), {rows_s, cols}).clone();
  const auto fused_t = torch::from_blob(zt_.data(), {rows_t, cols}).clone();
  at::NoGradGuard no_grad;
  const auto& fast = weights_.fast();
  const auto ref_s = model_.embed_source(fast, FeatureBatch(source_features_.narrow(0, 0, rows_s)));
  const auto ref_t = model_.embed_target(fast, FeatureBatch(target_features_.narrow(0, 0, rows_t)));
  return ref_s.sizes() == fused_s.sizes() && ref_t.sizes() == fused_t.sizes() &&
         torch::allclose(fused_s, ref_s, 1e-4, 1e-4) && torch::allclose(fused_t, ref_t, 1e-4, 1e-4);
}

torch::Tensor FusedRetrievalFineTune::run(const EvalOptions& eval, const RetrievalTask& task) {
  if (task.support_source.size() != task.support_groups.size() ||
      task.support_target.size() != task.support_groups.size() ||
      task.query_source.size() != task.query_target.size()) {
    throw std::invalid_argument("FusedRetrievalFineTune::run: support or query pairs of unequal length");
  }
  at::NoGradGuard no_grad;
  weights_.restart();
  const AdamSettings settings = fine_tuning_adam(eval.lr);
  const auto rows = static_cast<std::int64_t>(task.support_groups.size());
  const auto cols = support_.source.back()->out();
  for (std::int64_t s = 0; s < eval.steps; ++s) {
    embed(support_, task.support_source, task.support_target);
    dzs_.resize(zs_.size());
    dzt_.resize(zt_.size());
    // Both sides carry the support groups: pair i's source and target share group i's id, and
    // the other support pairs are the negatives (none with k = 1, N = 1: zero loss and gradient).
    alignment_loss_and_grad(alignment_, zs_.data(), zt_.data(), rows, rows, cols, task.support_groups.data(),
                            task.support_groups.data(), dzs_.data(), dzt_.data());
    // The source path first (make_net: the target path's e_s adds to its gradient).
    encode_backward(support_.source, zs_, ns_, dzs_);
    encode_backward(support_.target, zt_, nt_, dzt_);
    weights_.adam_step(settings);
  }
  embed(query_, task.query_source, task.query_target);
  return similarities(zs_, zt_, cols);
}

}  // namespace croma
