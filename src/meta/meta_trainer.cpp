#include "croma/meta/meta_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include "croma/meta/fused_inner_loop.h"
#include "croma/meta/method.h"
#include "croma/meta/reptile.h"
#include "croma/tasks/inner_problem.h"
#include "croma/util/stopwatch.h"

namespace croma {
namespace {

// A limit of the exact sums written out (8388608, not 8.38861e+06 or 8388608.000000).
std::string number(double v) {
  std::ostringstream out;
  out << std::setprecision(12) << v;
  return out.str();
}

}  // namespace

double StepStats::loss(const std::string& name) const {
  for (const auto& [n, v] : losses) {
    if (n == name) return v;
  }
  throw std::out_of_range("no task '" + name + "' in this step");
}

MetaTrainer::MetaTrainer(const CromaModel& model, const EpisodeSampler& sampler,
                         const MetaOptions& meta, std::uint64_t seed, const Communicator& comm,
                         const torch::Device& device)
    : model_(model), options_(meta), comm_(comm), device_(device) {
  usage_ = std::make_unique<TargetUsage>(sampler.data().target.size());
  context_ = std::unique_ptr<TaskContext>(new TaskContext{
      model, sampler, options_, device_, sampler.data().source.batch().to(device_),
      sampler.data().target.batch().to(device_), usage_.get()});
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  meta_ = torch::zeros({model.numel()}, opts);
  fast_ = std::make_unique<FastWeights>(model.layout(), opts);
  if (!device_.is_cpu()) {
    delta_ = torch::zeros({model.numel()}, opts);
    host_delta_ = torch::zeros({model.numel()}, torch::kFloat32);
  }
  // Limits from the layout-independent slot count R*T, so that every layout of the same
  // product refuses exactly the same contributions.
  const auto slots_total = static_cast<std::int64_t>(comm.size()) * meta.tasks_per_rank;
  delta_fp_ = FixedPoint::for_terms(kDeltaFracBits, slots_total);
  loss_fp_ = FixedPoint::for_terms(kLossFracBits, slots_total);
  adam_settings_ = {meta.inner_lr, meta.adam_beta1, meta.adam_beta2, 1e-8};
  for (std::int64_t t = 0; t < meta.tasks_per_rank; ++t) {
    slots_.emplace_back(seed, static_cast<std::uint64_t>(comm.rank() * meta.tasks_per_rank + t));
  }
  set_tasks(croma_tasks(*context_), meta.meta_lr);
}

MetaTrainer::~MetaTrainer() = default;

void MetaTrainer::set_fused_inner_loop(bool allowed) {
  fused_allowed_ = allowed;
  fused_ = allowed ? FusedInnerLoop::create(*context_, tasks_, options_.tasks_per_rank) : nullptr;
  if (allowed && require_fused_ && !fused_) {
    std::string names;
    for (const auto& task : tasks_) names += (names.empty() ? "" : ", ") + task->name();
    throw OptionError("--inner-loop fused: the fused kernels do not run these tasks (" + names +
                      ") on this model and device; they cover every built-in task with MLP encoders on the "
                      "CPU, not pool, LSTM or CNN encoders, a GPU or a custom task (use --inner-loop auto "
                      "or autograd)");
  }
}

void MetaTrainer::set_inner_loop(const std::string& choice) {
  if (choice != "auto" && choice != "fused" && choice != "autograd") {
    throw OptionError("invalid value for --inner-loop: '" + choice + "' (allowed: auto, fused, autograd)");
  }
  require_fused_ = choice == "fused";
  set_fused_inner_loop(choice != "autograd");
}

void MetaTrainer::set_tasks(InnerTaskList tasks, double epsilon) {
  if (tasks.empty()) throw std::invalid_argument("MetaTrainer::set_tasks: no tasks");
  if (!(epsilon > 0)) throw std::invalid_argument("MetaTrainer::set_tasks: epsilon must be > 0");
  tasks_ = std::move(tasks);
  epsilon_ = epsilon;
  coverage_.clear();  // computed at the first step with these tasks
  // The exact delta sums, then per task its loss sum and its refused losses, then the refused
  // delta entries and the stop flag: all int64, one MPI_SUM (exact, so any reduction order).
  const auto k = static_cast<std::int64_t>(tasks_.size());
  host_buffer_ = torch::zeros({model_.numel() + 2 * k + 2}, torch::kInt64);
  if (!device_.is_cpu()) device_buffer_ = torch::zeros_like(host_buffer_, host_buffer_.options().device(device_));
  set_fused_inner_loop(fused_allowed_);
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

std::pair<std::int64_t, std::int64_t> MetaTrainer::target_usage() const {
  auto flags = usage_->as_tensor();
  comm_.allreduce_sum(flags);
  return TargetUsage::count(flags);
}

std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> MetaTrainer::target_usage_items() const {
  auto flags = usage_->as_tensor();
  comm_.allreduce_sum(flags);
  return TargetUsage::items(flags);
}

void MetaTrainer::run_episode(InnerTask& task, Rng& rng, const EpisodeSums& out) {
  Stopwatch clock;
  const auto range = task.range();
  {
    at::NoGradGuard no_grad;
    fast_->values().copy_(meta_);  // a true copy: the episode never writes into the meta-parameters
  }
  clock.lap(timings_.reptile);
  task.sample(rng);
  const auto problem = task.problem();
  const bool described = problem.loss != InnerLoss::kCustom;
  const auto frozen = described ? frozen_embeddings(model_, problem, task.episode(), meta_) : torch::Tensor();
  // A described problem's minibatches, all drawn now: one copy to the device per episode.
  const auto batches = described ? draw_minibatches(problem, task.episode(), options_.inner_steps, rng, device_)
                                 : std::vector<MinibatchIndices>();
  clock.lap(timings_.sampling);
  adam_.reset(range.size(), device_);
  auto loss_sum = torch::zeros({}, meta_.options());
  clock.lap(timings_.optimizer);
  for (std::int64_t s = 0; s < options_.inner_steps; ++s) {
    auto loss = described ? inner_step_loss(model_, options_, problem, task.episode(), frozen,
                                            batches[static_cast<std::size_t>(s)], *fast_)
                          : task.step_loss(*fast_, rng);
    loss.backward();
    loss_sum += loss.detach();
    clock.lap(timings_.forward_backward);
    adam_.step(slice(fast_->values(), range), slice(fast_->grad(), range), adam_settings_);
    fast_->zero_grad();
    clock.lap(timings_.optimizer);
  }
  // The delta and the mean loss go into the sums where they lie (on the device): nothing
  // comes back to the host per episode.
  accumulate_reptile_delta_exact(out.deltas, fast_->values(), meta_, range, delta_fp_, out.refused_deltas);
  const auto mean_loss = loss_sum.to(torch::kFloat64) / static_cast<double>(options_.inner_steps);
  add_fixed(mean_loss.reshape({1}), loss_fp_, out.loss, out.refused_loss);
  clock.lap(timings_.reptile);
}

StepStats MetaTrainer::step(bool request_stop) {
  // Every slot's contribution (its Reptile delta of each task, its mean loss of each task)
  // becomes fixed point on its own and adds as integers (meta/exact_sum.h): the sums, and so
  // the meta-parameters, metrics and every decision taken from them, are bit-identical for
  // every layout of the same R*T slots.
  const auto p = model_.numel();
  const auto k = tasks_.size();
  auto* sums = host_buffer_.data_ptr<std::int64_t>();
  if (coverage_.empty()) {
    std::vector<ParamRange> ranges;
    for (const auto& task : tasks_) ranges.push_back(task->range());
    coverage_ = task_coverage(ranges, model_.numel());
  }
  if (fused_ && fused_->stores_first_slot()) {
    // The fused loop stores into its tasks' (disjoint) ranges: zero the rest only (the
    // stretches no task covers, and the loss sums, refusals and stop flag after them).
    for (const auto& c : coverage_) {
      if (c.tasks == 0) std::fill(sums + c.range.begin, sums + c.range.end, std::int64_t{0});
    }
    std::fill(sums + p, sums + host_buffer_.numel(), std::int64_t{0});
  } else if (device_.is_cpu()) {
    host_buffer_.zero_();  // (on a device the copy of device_buffer_ overwrites all of it)
  }
  auto* loss_sums = sums + p;
  auto* refused_losses = loss_sums + k;
  auto& refused_deltas = refused_losses[k];
  auto& stop_flag = refused_losses[k + 1];
  auto add_loss = [&](std::size_t task, double loss) {
    if (!add_fixed(loss, loss_fp_, loss_sums[task])) ++refused_losses[task];
  };
  if (fused_) {
    auto delta_sums = host_buffer_.narrow(0, 0, p);
    const auto r = fused_->run(tasks_, meta_, delta_sums, delta_fp_, slots_, adam_settings_, timings_);
    refused_deltas += r.refused;
    for (std::size_t t = 0; t < k; ++t) {
      for (double loss : r.losses[t]) add_loss(t, loss);
    }
  } else {
    // Every episode adds its delta, its loss and their refusals into the buffer's layout with
    // tensor operations where the parameters are: on the CPU straight into the allreduce
    // buffer; on a device into device_buffer_, which comes to the host in one copy.
    torch::Tensor buffer = device_.is_cpu() ? host_buffer_ : device_buffer_;
    if (!device_.is_cpu()) buffer.zero_();
    const auto pk = static_cast<std::int64_t>(k);
    for (auto& rng : slots_) {
      for (std::size_t t = 0; t < k; ++t) {
        const auto ti = static_cast<std::int64_t>(t);
        run_episode(*tasks_[t], rng,
                    {buffer.narrow(0, 0, p), buffer.narrow(0, p + ti, 1), buffer.narrow(0, p + pk + ti, 1),
                     buffer.narrow(0, p + 2 * pk, 1)});
      }
    }
    if (!device_.is_cpu()) host_buffer_.copy_(device_buffer_);
  }
  stop_flag = request_stop ? 1 : 0;
  // One collective carries the deltas and the loss statistics.
  Stopwatch clock;
  comm_.allreduce_sum(host_buffer_);
  clock.lap(timings_.allreduce);
  const double count = static_cast<double>(comm_.size()) * static_cast<double>(options_.tasks_per_rank);
  StepStats stats;
  stats.episodes = static_cast<std::int64_t>(count) * static_cast<std::int64_t>(k);
  stats.stop_requested = stop_flag > 0;
  ++steps_done_;
  for (std::size_t t = 0; t < k; ++t) {
    if (refused_losses[t] > 0) {
      throw std::runtime_error("non-finite " + tasks_[t]->name() + " loss at meta-step " + std::to_string(steps_done_) +
                               " (or one of magnitude >= " + number(loss_fp_.limit) +
                               "); lower --inner-lr or --meta-lr");
    }
    stats.losses.emplace_back(tasks_[t]->name(), loss_fp_.to_double(loss_sums[t]) / count);
  }
  // A finite loss can still be followed by an update that overflows: check the deltas too,
  // before they reach the meta-parameters (the last checkpoint stays the last good one).
  if (refused_deltas > 0) {
    throw std::runtime_error("non-finite meta-update at meta-step " + std::to_string(steps_done_) + " (" +
                             std::to_string(refused_deltas) +
                             " Reptile delta entries not finite or of magnitude >= " +
                             number(delta_fp_.limit) +
                             ", the range of the exact sum); lower --inner-lr or --meta-lr");
  }
  clock.lap(timings_.allreduce);
  if (device_.is_cpu()) {
    // The summed delta converted back once and applied in the same pass.
    apply_reptile_update_from_fixed(meta_, sums, delta_fp_.frac_bits, coverage_, count, epsilon_);
  } else {
    fixed_to_float(sums, p, delta_fp_.frac_bits, host_delta_.data_ptr<float>());
    at::NoGradGuard no_grad;
    delta_.copy_(host_delta_);
    apply_reptile_update(meta_, delta_, coverage_, count, epsilon_);
  }
  clock.lap(timings_.reptile);
  return stats;
}

}  // namespace croma
