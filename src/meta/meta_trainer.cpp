#include "croma/meta/meta_trainer.h"

#include <cmath>
#include <stdexcept>

#include "croma/meta/reptile.h"
#include "croma/model/losses.h"

namespace croma {

MetaTrainer::MetaTrainer(const CromaModel& model, const EpisodeSampler& sampler,
                         const MetaOptions& meta, std::uint64_t seed, const Communicator& comm,
                         const torch::Device& device)
    : model_(model), sampler_(sampler), options_(meta), comm_(comm), device_(device) {
  source_features_ = sampler.data().source.features.to(device_);
  target_features_ = sampler.data().target.features.to(device_);
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  meta_ = torch::zeros({model.numel()}, opts);
  fast_ = torch::zeros({model.numel()}, opts).requires_grad_(true);
  delta_ = torch::zeros({model.numel()}, opts);
  host_buffer_ = torch::zeros({model.numel() + 3}, torch::kFloat32);
  adam_settings_ = {meta.inner_lr, meta.adam_beta1, meta.adam_beta2, 1e-8};
  for (std::int64_t t = 0; t < meta.tasks_per_rank; ++t) {
    slots_.emplace_back(seed, static_cast<std::uint64_t>(comm.rank() * meta.tasks_per_rank + t));
  }
}

void MetaTrainer::set_meta_parameters(torch::Tensor cpu_parameters) {
  if (cpu_parameters.numel() != model_.numel()) {
    throw std::invalid_argument("set_meta_parameters: expected " + std::to_string(model_.numel()) +
                                " parameters, got " + std::to_string(cpu_parameters.numel()));
  }
  auto buffer = cpu_parameters.to(torch::kCPU, torch::kFloat32).contiguous().clone();
  comm_.broadcast(buffer, 0);
  at::NoGradGuard no_grad;
  meta_.copy_(buffer);
}

std::vector<std::string> MetaTrainer::rng_states() const {
  std::vector<std::string> out;
  for (const auto& rng : slots_) out.push_back(rng.state());
  return out;
}

void MetaTrainer::set_rng_states(const std::vector<std::string>& states) {
  if (states.size() != slots_.size()) {
    throw std::invalid_argument("set_rng_states: " + std::to_string(states.size()) +
                                " stream states for " + std::to_string(slots_.size()) + " task slots");
  }
  for (std::size_t t = 0; t < slots_.size(); ++t) slots_[t].set_state(states[t]);
}

torch::Tensor MetaTrainer::meta_parameters() const { return meta_.to(torch::kCPU).clone(); }

bool MetaTrainer::replicas_agree() const { return comm_.all_equal(bitwise_checksum(meta_)); }

std::vector<std::int64_t> MetaTrainer::minibatch(Rng& rng, std::int64_t rows, std::int64_t batch) const {
  return rng.sample_without_replacement(rows, std::min(rows, batch));
}

double MetaTrainer::alignment_episode(Rng& rng) {
  const auto ep = sampler_.sample_alignment(rng, options_.pairs, options_.ways, options_.shots);
  const auto xs = gather_rows(source_features_, ep.source_items);
  const auto xt = gather_rows(target_features_, ep.target_items);
  const auto gs = to_index_tensor(ep.source_groups, device_);
  const auto gt = to_index_tensor(ep.target_groups, device_);
  const auto range = model_.encoders();
  {
    at::NoGradGuard no_grad;
    fast_.copy_(meta_);  // a true copy: the episode never writes into the meta-parameters
  }
  adam_.reset(range.size(), device_);
  auto loss_sum = torch::zeros({}, meta_.options());
  const auto n_s = static_cast<std::int64_t>(ep.source_items.size());
  const auto n_t = static_cast<std::int64_t>(ep.target_items.size());
  for (std::int64_t s = 0; s < options_.inner_steps; ++s) {
    // Strong pairs keep rows matched; weak pairs draw source and target rows independently.
    const auto rows_s = to_index_tensor(minibatch(rng, n_s, options_.align_batch), device_);
    const auto rows_t = options_.pairs == PairKind::kStrong
                            ? rows_s
                            : to_index_tensor(minibatch(rng, n_t, options_.align_batch), device_);
    const auto zs = model_.embed_source(fast_, xs.index_select(0, rows_s));
    const auto zt = model_.embed_target(fast_, xt.index_select(0, rows_t));
    const auto bs = gs.index_select(0, rows_s);
    const auto bt = gt.index_select(0, rows_t);
    auto loss = options_.align_loss == AlignLossKind::kMargin
                    ? alignment_margin_loss(zs, zt, bs, bt, options_.margin)
                    : alignment_infonce_loss(zs, zt, bs, bt, options_.temperature);
    loss.backward();
    auto grad = fast_.mutable_grad();
    adam_.step(slice(fast_, range), slice(grad, range), adam_settings_);
    grad.zero_();
    loss_sum += loss.detach();
  }
  accumulate_reptile_delta(delta_, fast_, meta_, range);
  return loss_sum.item<double>() / static_cast<double>(options_.inner_steps);
}

double MetaTrainer::classification_episode(Rng& rng) {
  const auto ep = sampler_.sample_classification(rng, options_.ways, options_.shots);
  const auto labels = to_index_tensor(ep.labels, device_);
  torch::Tensor embedding;
  const auto range = model_.classifier();
  {
    at::NoGradGuard no_grad;
    // Algorithm 1 adapts only phi here; the source encoder is read at its meta value.
    embedding = model_.embed_source(meta_, gather_rows(source_features_, ep.items));
    slice(fast_, range).copy_(slice(meta_, range));
  }
  adam_.reset(range.size(), device_);
  auto loss_sum = torch::zeros({}, meta_.options());
  const auto n = static_cast<std::int64_t>(ep.items.size());
  for (std::int64_t s = 0; s < options_.inner_steps; ++s) {
    const auto rows = to_index_tensor(minibatch(rng, n, options_.inner_batch), device_);
    auto loss = cross_entropy(model_.classify(fast_, embedding.index_select(0, rows)),
                              labels.index_select(0, rows));
    loss.backward();
    auto grad = fast_.mutable_grad();
    adam_.step(slice(fast_, range), slice(grad, range), adam_settings_);
    grad.zero_();
    loss_sum += loss.detach();
  }
  accumulate_reptile_delta(delta_, fast_, meta_, range);
  return loss_sum.item<double>() / static_cast<double>(options_.inner_steps);
}

StepStats MetaTrainer::step(bool request_stop) {
  {
    at::NoGradGuard no_grad;
    delta_.zero_();
  }
  double align_sum = 0, class_sum = 0;
  for (auto& rng : slots_) {
    align_sum += alignment_episode(rng);
    class_sum += classification_episode(rng);
  }
  // One collective carries the deltas and the loss statistics.
  const auto p = model_.numel();
  host_buffer_.narrow(0, 0, p).copy_(delta_);
  auto* tail = host_buffer_.data_ptr<float>() + p;
  tail[0] = static_cast<float>(align_sum);
  tail[1] = static_cast<float>(class_sum);
  tail[2] = request_stop ? 1.0f : 0.0f;
  comm_.allreduce_sum(host_buffer_);
  const double tasks = static_cast<double>(comm_.size()) * static_cast<double>(options_.tasks_per_rank);
  StepStats stats;
  stats.align_loss = tail[0] / tasks;
  stats.class_loss = tail[1] / tasks;
  stats.episodes = static_cast<std::int64_t>(2 * tasks);
  stats.stop_requested = tail[2] > 0.0f;
  ++steps_done_;
  if (!std::isfinite(stats.align_loss) || !std::isfinite(stats.class_loss)) {
    throw std::runtime_error("non-finite loss at meta-step " + std::to_string(steps_done_) +
                             " (alignment " + std::to_string(stats.align_loss) + ", classification " +
                             std::to_string(stats.class_loss) + "); lower --inner-lr or --meta-lr");
  }
  {
    at::NoGradGuard no_grad;
    delta_.copy_(host_buffer_.narrow(0, 0, p));
  }
  apply_reptile_update(meta_, delta_, tasks, options_.meta_lr);
  return stats;
}

}  // namespace croma
