#include "croma/meta/fused_inner_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "croma/util/stopwatch.h"

namespace croma {
namespace {

bool cpu_floats(const torch::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.dim() == 2 &&
         t.is_contiguous();
}

// The labels (or group ids) of a minibatch's rows.
std::vector<std::int64_t> labels_of(const torch::Tensor& labels, const std::vector<std::int64_t>& rows) {
  std::vector<std::int64_t> out(rows.size());
  const auto* lp = labels.data_ptr<std::int64_t>();
  for (std::size_t r = 0; r < rows.size(); ++r) out[r] = lp[rows[r]];
  return out;
}

// The stretches of `range` that none of the sorted, disjoint ranges `covered` reaches.
std::vector<ParamRange> uncovered(ParamRange range, const std::vector<ParamRange>& covered) {
  std::vector<ParamRange> out;
  std::int64_t at = range.begin;
  for (const auto& r : covered) {
    if (r.begin > at) out.push_back({at, std::min(r.begin, range.end)});
    at = std::max(at, r.end);
    if (at >= range.end) break;
  }
  if (at < range.end) out.push_back({at, range.end});
  return out;
}

// An episode tensor as the kernels read it: contiguous, on the CPU, of this type (no copy
// when it already is).
torch::Tensor host(const torch::Tensor& t, torch::ScalarType type) {
  return t.defined() ? t.to(torch::kCPU, type).contiguous() : t;
}

}  // namespace

std::vector<FusedInnerLoop::Member> FusedInnerLoop::parts_run(const InnerParts& p, bool shared) {
  std::vector<Member> out;
  auto rows = [&](RowPath path) {
    if (path == RowPath::kSource) out.push_back(&Parts::source);
    if (path == RowPath::kTarget) {
      out.push_back(&Parts::target);
      if (shared) out.push_back(&Parts::source);  // the target path ends in the shared e_s
    }
  };
  rows(p.first);
  rows(p.second);
  switch (p.head) {
    case InnerHead::kClassifier: out.push_back(&Parts::classifier); break;
    case InnerHead::kClassChain: out.push_back(&Parts::class_chain); break;
    case InnerHead::kDecoder: out.push_back(&Parts::decoder); break;
    case InnerHead::kDomainHead: out.push_back(&Parts::domain); break;
    case InnerHead::kNone: break;
  }
  return out;
}

ModelPart FusedInnerLoop::model_part(Member member) {
  if (member == &Parts::source) return ModelPart::kSourceEncoder;
  if (member == &Parts::target) return ModelPart::kTargetEncoder;  // the input map with a shared encoder
  if (member == &Parts::classifier) return ModelPart::kClassifier;
  if (member == &Parts::decoder) return ModelPart::kDecoder;
  if (member == &Parts::domain) return ModelPart::kDomainHead;
  throw std::logic_error("FusedInnerLoop::model_part: a composite part");
}

std::unique_ptr<FusedInnerLoop> FusedInnerLoop::create(const TaskContext& ctx, const InnerTaskList& tasks,
                                                       std::int64_t slots) {
  if (!ctx.device.is_cpu() || slots < 1 || tasks.empty()) return nullptr;
  const auto& model = ctx.model;
  const bool shared = model.shape().shared_encoder;
  std::vector<InnerProblem> problems;
  std::vector<InnerParts> problem_parts;
  for (const auto& task : tasks) {
    problems.push_back(task->problem());
    const auto parts = inner_parts(problems.back(), shared);
    if (!parts) return nullptr;
    problem_parts.push_back(*parts);
  }
  // run() stores the first slot's delta of each task instead of adding it where no two
  // tasks' ranges overlap (the shared methods' tasks both adapt e_s: there it adds).
  bool disjoint = true;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const auto a = tasks[i]->range(), b = tasks[j]->range();
      if (a.begin < b.end && b.begin < a.end) disjoint = false;
    }
  }
  // Every part any problem runs must be an MLP; the source encoder always (frozen embeddings).
  Parts parts;
  auto load = [&](Member member) {
    auto& into = parts.*member;
    if (!into.empty()) return true;
    if (member == &Parts::class_chain) {  // phi's hidden layer, then the class head
      const auto phi = model.mlp_layers(ModelPart::kClassifier);
      const auto head = model.mlp_layers(ModelPart::kClassHead);
      if (!phi || !head) return false;
      into = {phi->front()};
      into.insert(into.end(), head->begin(), head->end());
      return true;
    }
    const auto layers = model.mlp_layers(model_part(member));
    if (!layers) return false;
    into = *layers;
    return true;
  };
  if (!load(&Parts::source)) return nullptr;
  for (const auto& p : problem_parts) {
    for (const auto member : parts_run(p, shared)) {
      if (!load(member)) return nullptr;
    }
  }
  if (ctx.source_features.has_lengths() || ctx.target_features.has_lengths() ||
      !cpu_floats(ctx.source_features.values()) || !cpu_floats(ctx.target_features.values())) {
    return nullptr;
  }
  // Per task: where each slot starts from the meta-parameters (its range and every part its
  // loss runs, which an earlier task of the meta-step may have moved: the adversarial task
  // reads e_s through the target path but adapts only [map_t | domain]), and the stretches of
  // its range whose gradient no kernel writes (phi under reconstruction, phi's output layer
  // under the class head): those are cleared, as autograd leaves them zero; the kernels
  // overwrite the rest at every step.
  std::vector<std::vector<ParamRange>> starts, cleared;
  for (std::size_t k = 0; k < tasks.size(); ++k) {
    const auto range = tasks[k]->range();
    std::vector<ParamRange> run;
    for (const auto member : parts_run(problem_parts[k], shared)) {
      for (const auto& r : spans_of(parts.*member)) run.push_back(r);
    }
    run = merge_ranges(std::move(run));
    auto read = run;
    read.push_back(range);
    starts.push_back(merge_ranges(std::move(read)));
    cleared.push_back(uncovered(range, run));
  }
  std::unique_ptr<FusedInnerLoop> loop(
      new FusedInnerLoop(ctx, std::move(problems), std::move(problem_parts), std::move(parts), slots));
  loop->stores_first_slot_ = disjoint;
  loop->starts_ = std::move(starts);
  loop->cleared_ = std::move(cleared);
  if (!loop->agrees_with_model()) return nullptr;
  return loop;
}

FusedInnerLoop::FusedInnerLoop(const TaskContext& ctx, std::vector<InnerProblem> problems,
                               std::vector<InnerParts> problem_parts, Parts parts, std::int64_t slots)
    : ctx_(ctx), problems_(std::move(problems)), problem_parts_(std::move(problem_parts)), numel_(ctx.model.numel()),
      scale_(static_cast<float>(std::sqrt(static_cast<double>(ctx.model.shape().embed_dim)))),
      shared_(ctx.model.shape().shared_encoder) {
  fast_ = torch::zeros({slots, numel_}, torch::kFloat32);
  grad_ = torch::zeros({slots, numel_}, torch::kFloat32);
  auto kernel = [](const std::vector<DenseLayer>& layers) {
    return layers.empty() ? nullptr : std::make_unique<MlpKernel>(layers);
  };
  for (std::int64_t t = 0; t < slots; ++t) {
    Slot s;
    s.source = kernel(parts.source);
    s.target = kernel(parts.target);
    s.classifier = kernel(parts.classifier);
    s.decoder = kernel(parts.decoder);
    s.class_chain = kernel(parts.class_chain);
    if (shared_) {
      s.source_again = kernel(parts.source);
      s.source_again->set_accumulate(true);
    }
    s.domain = kernel(parts.domain);
    s.domain_fixed = kernel(parts.domain);
    if (s.domain_fixed) s.domain_fixed->set_frozen(true);
    for (auto* k : {s.source.get(), s.target.get(), s.classifier.get(), s.decoder.get(), s.class_chain.get(),
                    s.source_again.get(), s.domain.get(), s.domain_fixed.get()}) {
      if (k) k->bind(fast_[t], grad_[t]);
    }
    slots_.push_back(std::move(s));
  }
  meta_source_ = kernel(parts.source);
  meta_grad_unused_ = torch::zeros({numel_}, torch::kFloat32);
}

bool FusedInnerLoop::agrees_with_model() {
  const auto& model = ctx_.model;
  const torch::Tensor weights = model.probe_parameters();
  fast_[0].copy_(weights);
  const auto xs = ctx_.source_features.values().narrow(0, 0, std::min<std::int64_t>(4, ctx_.source_features.size(0)));
  const auto xt = ctx_.target_features.values().narrow(0, 0, std::min<std::int64_t>(4, ctx_.target_features.size(0)));
  at::NoGradGuard no_grad;
  const auto zs = model.embed_source(weights, xs);
  auto run = [](MlpKernel& k, const torch::Tensor& x, float scale, bool normalise) {
    std::vector<std::int64_t> rows(static_cast<std::size_t>(x.size(0)));
    for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = static_cast<std::int64_t>(r);
    copy_rows(x.contiguous(), rows, k.input(x.size(0)), scale);
    const float* y = k.forward();
    auto out = torch::empty({x.size(0), k.out()}, torch::kFloat32);
    if (normalise) {
      std::vector<float> norms(rows.size());
      normalise_rows(y, x.size(0), k.out(), out.data_ptr<float>(), norms.data());
    } else {
      std::memcpy(out.data_ptr<float>(), y, sizeof(float) * static_cast<std::size_t>(out.numel()));
    }
    return out;
  };
  auto& s = slots_[0];
  bool same = s.source->in() == xs.size(1) && torch::allclose(run(*s.source, xs, 1.0f, true), zs, 1e-4, 1e-5);
  if (same && s.target) {
    const auto path = target_path(s, false);
    std::vector<std::int64_t> rows(static_cast<std::size_t>(xt.size(0)));
    for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = static_cast<std::int64_t>(r);
    std::vector<float> z, norms;
    same = path.front()->in() == xt.size(1);
    if (same) {
      encode(path, xt.contiguous(), rows, z, norms);
      const auto zt = torch::from_blob(z.data(), {xt.size(0), s.source->out()}).clone();
      same = torch::allclose(zt, model.embed_target(weights, xt), 1e-4, 1e-5);
    }
  }
  if (same && s.classifier) {
    same = torch::allclose(run(*s.classifier, zs, scale_, false), model.classify(weights, zs), 1e-4, 1e-4);
  }
  if (same && s.class_chain) {
    same = torch::allclose(run(*s.class_chain, zs, scale_, false), model.classify_source_classes(weights, zs),
                           1e-4, 1e-4);
  }
  if (same && s.decoder) {
    same = torch::allclose(run(*s.decoder, zs, scale_, false), model.decode(weights, zs), 1e-4, 1e-4);
  }
  if (same && s.domain) {
    same = torch::allclose(run(*s.domain, zs, scale_, false), model.domain_logits(weights, zs), 1e-4, 1e-4);
  }
  fast_[0].zero_();
  return same;
}

void FusedInnerLoop::embed_frozen_episodes(const torch::Tensor& meta) {
  meta_source_->bind(meta, meta_grad_unused_);
  // One product per slot, not one over all slots' rows: BLAS picks its kernels (and so the
  // rounding of each row) by the product's shape, and a slot's embeddings must not depend on
  // how many other slots its rank holds (the same numbers on any layout, meta/exact_sum.h).
  const auto embed = meta_source_->out();
  for (auto& s : slots_) {
    const auto rows = s.first.size(0);
    float* in = meta_source_->input(rows);
    std::memcpy(in, s.first.data_ptr<float>(), sizeof(float) * static_cast<std::size_t>(s.first.numel()));
    const float* y = meta_source_->forward();
    std::vector<float> norms(static_cast<std::size_t>(rows));
    if (!s.embedding.defined() || s.embedding.size(0) != rows) s.embedding = torch::empty({rows, embed}, torch::kFloat32);
    normalise_rows(y, rows, embed, s.embedding.data_ptr<float>(), norms.data());
  }
}

double FusedInnerLoop::step(const InnerProblem& problem, const InnerParts& parts, Slot& s, const Minibatch& rows) {
  switch (parts.head) {
    case InnerHead::kNone:
      return alignment_step(s, rows);
    case InnerHead::kClassifier:
      if (parts.first == RowPath::kFrozenSource) return frozen_head_step(s, *s.classifier, rows.first);
      return head_step(s, row_path(s, parts.first), *s.classifier, rows.first, false);
    case InnerHead::kClassChain:
      return frozen_head_step(s, *s.class_chain, rows.first);
    case InnerHead::kDecoder:
      return head_step(s, row_path(s, parts.first), *s.decoder, rows.first, true);
    case InnerHead::kDomainHead:
      return domain_step(s, rows, problem.loss == InnerLoss::kDomainAdversarial);
  }
  throw std::logic_error("FusedInnerLoop: a problem create() did not accept");
}

FusedInnerLoop::Path FusedInnerLoop::row_path(Slot& s, RowPath path) const {
  if (path == RowPath::kSource) return source_path(s);
  if (path == RowPath::kTarget) return target_path(s, false);
  throw std::logic_error("FusedInnerLoop: rows without an adapted encoder path");
}

FusedInnerLoop::Path FusedInnerLoop::target_path(Slot& s, bool after_source) const {
  if (!shared_) return {s.target.get()};
  return {s.target.get(), after_source ? s.source_again.get() : s.source.get()};
}

void FusedInnerLoop::encode_both(Slot& s, const Minibatch& rows) {
  encode(source_path(s), s.first, rows.first, zs_, ns_);
  encode(target_path(s, true), s.second, rows.second, zt_, nt_);
}

void FusedInnerLoop::encode_both_backward(Slot& s) {
  // The source path first: with a shared encoder it writes e_s's gradient, and the target
  // path's second run of e_s adds to it.
  encode_backward(source_path(s), zs_, ns_, dzs_);
  encode_backward(target_path(s, true), zt_, nt_, dzt_);
}

double FusedInnerLoop::alignment_step(Slot& s, const Minibatch& rows) {
  encode_both(s, rows);
  dzs_.resize(zs_.size());
  dzt_.resize(zt_.size());
  const auto gs = labels_of(s.first_labels, rows.first);
  const auto gt = labels_of(s.second_labels, rows.second);
  const double loss = alignment_loss_and_grad(ctx_.meta, zs_.data(), zt_.data(), static_cast<std::int64_t>(gs.size()),
                                              static_cast<std::int64_t>(gt.size()), s.source->out(), gs.data(),
                                              gt.data(), dzs_.data(), dzt_.data());
  encode_both_backward(s);
  return loss;
}

double FusedInnerLoop::domain_step(Slot& s, const Minibatch& rows, bool adversarial) {
  const auto bs = static_cast<std::int64_t>(rows.first.size());
  const auto bt = static_cast<std::int64_t>(rows.second.size());
  encode_both(s, rows);
  // The discriminator learns the true domains (source 0, target 1) from the embeddings held
  // fixed: gradients for its weights only.
  auto fill_scaled = [&](float* in, bool with_source) {
    std::size_t at = 0;
    if (with_source) {
      for (float v : zs_) in[at++] = v * scale_;
    }
    for (float v : zt_) in[at++] = v * scale_;
  };
  fill_scaled(s.domain->input(bs + bt), true);
  std::vector<std::int64_t> domains(static_cast<std::size_t>(bs + bt), 1);
  std::fill(domains.begin(), domains.begin() + bs, 0);
  double loss = cross_entropy_and_grad(s.domain->forward(), bs + bt, 2, domains.data(), s.domain->output_grad());
  s.domain->backward();
  // The encoder learns against the discriminator held fixed: gradients for the embeddings only.
  auto& fixed = *s.domain_fixed;
  const auto rows_in = adversarial ? bt : bs + bt;
  fill_scaled(fixed.input(rows_in), !adversarial);
  const float* logits = fixed.forward();
  if (adversarial) {  // the target items pass for source
    const std::vector<std::int64_t> as_source(static_cast<std::size_t>(bt), 0);
    loss += cross_entropy_and_grad(logits, bt, 2, as_source.data(), fixed.output_grad());
  } else {
    loss += uniform_cross_entropy_and_grad(logits, rows_in, 2, fixed.output_grad());
  }
  fixed.backward(true);
  const float* din = fixed.input_grad();
  dzs_.assign(zs_.size(), 0.0f);
  dzt_.resize(zt_.size());
  std::size_t at = 0;
  if (!adversarial) {
    for (auto& v : dzs_) v = din[at++] * scale_;
  }
  for (auto& v : dzt_) v = din[at++] * scale_;
  encode_both_backward(s);
  return loss;
}

double FusedInnerLoop::frozen_head_step(Slot& s, MlpKernel& head, const std::vector<std::int64_t>& rows) {
  const auto b = static_cast<std::int64_t>(rows.size());
  copy_rows(s.embedding, rows, head.input(b), scale_);
  const float* logits = head.forward();
  const auto labels = labels_of(s.first_labels, rows);
  const double loss = cross_entropy_and_grad(logits, b, head.out(), labels.data(), head.output_grad());
  head.backward();
  return loss;
}

double FusedInnerLoop::head_step(Slot& s, const Path& path, MlpKernel& head, const std::vector<std::int64_t>& rows,
                                 bool reconstruct) {
  const auto b = static_cast<std::int64_t>(rows.size());
  encode(path, s.first, rows, zt_, nt_);
  float* in = head.input(b);
  for (std::size_t i = 0; i < zt_.size(); ++i) in[i] = zt_[i] * scale_;
  const float* out = head.forward();
  double loss;
  if (reconstruct) {
    // Against the rows' own features (gathered once more: a few kB).
    std::vector<float> x(static_cast<std::size_t>(b * head.out()));
    copy_rows(s.first, rows, x.data());
    loss = squared_error_and_grad(out, x.data(), b, head.out(), head.output_grad());
  } else {
    const auto labels = labels_of(s.first_labels, rows);
    loss = cross_entropy_and_grad(out, b, head.out(), labels.data(), head.output_grad());
  }
  head.backward(true);
  const float* din = head.input_grad();
  dzt_.resize(zt_.size());
  for (std::size_t i = 0; i < dzt_.size(); ++i) dzt_[i] = din[i] * scale_;
  encode_backward(path, zt_, nt_, dzt_);
  return loss;
}

FusedInnerLoop::Result FusedInnerLoop::run(const InnerTaskList& tasks, const torch::Tensor& meta,
                                           torch::Tensor& delta_sums, const FixedPoint& fp, std::vector<Rng>& streams,
                                           const AdamSettings& adam, PhaseTimings& timings) {
  const auto slots = static_cast<std::int64_t>(slots_.size());
  if (static_cast<std::int64_t>(streams.size()) != slots || tasks.size() != problems_.size() ||
      !meta.is_contiguous() || !delta_sums.is_contiguous() || meta.numel() != numel_ ||
      delta_sums.numel() != numel_ || delta_sums.scalar_type() != torch::kInt64) {
    throw std::logic_error("FusedInnerLoop::run: tasks, slots or buffers do not match create()");
  }
  at::NoGradGuard no_grad;
  Stopwatch clock;
  Result out;
  const float* m = meta.data_ptr<float>();
  std::int64_t* d = delta_sums.data_ptr<std::int64_t>();
  float* fast = fast_.data_ptr<float>();
  const auto steps = ctx_.meta.inner_steps;
  for (std::size_t k = 0; k < tasks.size(); ++k) {
    auto& task = *tasks[k];
    const auto& problem = problems_[k];
    const auto& parts = problem_parts_[k];
    const auto range = task.range();
    auto params = fast_.narrow(1, range.begin, range.size());
    auto grads = grad_.narrow(1, range.begin, range.size());
    // Every slot starts from the meta-parameters on all the task reads, not only its range: a
    // loss may read parts it does not adapt (the adversarial task reads e_s through the target
    // path but adapts only [map_t | domain]), which an earlier task of this meta-step may have
    // moved. Copying less would run it on stale weights; copying the whole model would double
    // CroMA's copies.
    for (std::int64_t t = 0; t < slots; ++t) {
      for (const auto& r : starts_[k]) {
        std::memcpy(fast + t * numel_ + r.begin, m + r.begin, sizeof(float) * static_cast<std::size_t>(r.size()));
      }
    }
    for (std::int64_t t = 0; t < slots; ++t) {
      for (const auto& r : cleared_[k]) grad_[t].narrow(0, r.begin, r.size()).zero_();
    }
    clock.lap(timings.reptile);
    for (std::int64_t t = 0; t < slots; ++t) {
      auto& s = slots_[static_cast<std::size_t>(t)];
      task.sample(streams[static_cast<std::size_t>(t)]);
      const auto& ep = task.episode();
      s.first = host(ep.first.values(), torch::kFloat32);
      s.second = host(ep.second.values(), torch::kFloat32);
      s.first_labels = host(ep.first_labels, torch::kInt64);
      s.second_labels = host(ep.second_labels, torch::kInt64);
    }
    if (problem.first == RowPath::kFrozenSource) embed_frozen_episodes(meta);
    clock.lap(timings.sampling);
    adam_.reset(slots * range.size(), torch::kCPU);
    std::vector<double> loss_sum(static_cast<std::size_t>(slots), 0.0);
    clock.lap(timings.optimizer);
    for (std::int64_t step_index = 0; step_index < steps; ++step_index) {
      for (std::int64_t t = 0; t < slots; ++t) {
        auto& s = slots_[static_cast<std::size_t>(t)];
        const auto rows = draw_minibatch(problem, s.first.size(0), s.second.defined() ? s.second.size(0) : 0,
                                         streams[static_cast<std::size_t>(t)]);
        loss_sum[static_cast<std::size_t>(t)] += step(problem, parts, s, rows);
      }
      clock.lap(timings.forward_backward);
      adam_.step(params, grads, adam);
      clock.lap(timings.optimizer);
    }
    // Each slot's delta fast_t - meta is rounded to fixed point on its own and added as
    // integers (accumulate_reptile_delta_exact's arithmetic): a float running sum over the
    // slots would round differently for another number of slots per rank.
    // The first slot stores where the task ranges are disjoint (the caller then zeroes only
    // what no task covers: stores_first_slot()).
    for (std::int64_t t = 0; t < slots; ++t) {
      out.refused += (t == 0 && stores_first_slot_ ? store_fixed_differences : add_fixed_differences)(
          fast + t * numel_ + range.begin, m + range.begin, range.size(), fp, d + range.begin);
    }
    std::vector<double> mean(static_cast<std::size_t>(slots));
    for (std::size_t t = 0; t < mean.size(); ++t) mean[t] = loss_sum[t] / static_cast<double>(steps);
    out.losses.push_back(std::move(mean));
    clock.lap(timings.reptile);
  }
  return out;
}

}  // namespace croma
