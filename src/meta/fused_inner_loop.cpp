#include "croma/meta/fused_inner_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "croma/meta/meta_trainer.h"
#include "croma/tasks/alignment_task.h"
#include "croma/tasks/source_classification_task.h"
#include "croma/util/stopwatch.h"

namespace croma {
namespace {

bool cpu_floats(const torch::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.dim() == 2 &&
         t.is_contiguous();
}

// Copies the given rows of a row-major [n, cols] float matrix into `out` (scaled).
void gather(const torch::Tensor& from, const std::vector<std::int64_t>& rows, float* out, float scale = 1.0f) {
  const auto cols = from.size(1);
  const float* src = from.data_ptr<float>();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const float* row = src + rows[r] * cols;
    float* dst = out + static_cast<std::int64_t>(r) * cols;
    if (scale == 1.0f) {
      std::memcpy(dst, row, sizeof(float) * static_cast<std::size_t>(cols));
    } else {
      for (std::int64_t c = 0; c < cols; ++c) dst[c] = row[c] * scale;
    }
  }
}

// [begin, end) covered by the entries of some layers (weights and biases).
ParamRange span(const std::vector<DenseLayer>& a, const std::vector<DenseLayer>& b = {}) {
  ParamRange r{INT64_MAX, 0};
  for (const auto* layers : {&a, &b}) {
    for (const auto& l : *layers) {
      r.begin = std::min({r.begin, l.weight_offset, l.bias_offset});
      r.end = std::max({r.end, l.weight_offset + l.in * l.out, l.bias_offset + l.out});
    }
  }
  return r;
}

// The product of layer sizes equals the span: no entry in the range that the kernels would
// leave without a gradient.
std::int64_t entries_size(const std::vector<DenseLayer>& layers) {
  std::int64_t n = 0;
  for (const auto& l : layers) n += l.in * l.out + l.out;
  return n;
}

}  // namespace

std::unique_ptr<FusedInnerLoop> FusedInnerLoop::create(const TaskContext& ctx, const InnerTaskList& tasks,
                                                       std::int64_t slots) {
  if (!ctx.device.is_cpu() || slots < 1 || tasks.empty()) return nullptr;
  for (const auto& task : tasks) {
    if (dynamic_cast<const AlignmentTask*>(task.get())) continue;
    const auto* c = dynamic_cast<const SourceClassificationTask*>(task.get());
    if (c && !c->adapts_encoder()) continue;
    return nullptr;
  }
  // run() stores the first slot's delta of each task instead of adding it: ranges must not overlap.
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const auto a = tasks[i]->range(), b = tasks[j]->range();
      if (a.begin < b.end && b.begin < a.end) return nullptr;
    }
  }
  const auto& model = ctx.model;
  if (model.shape().shared_encoder) return nullptr;
  auto source = find_mlp(model.layout(), "e_s");
  auto target = find_mlp(model.layout(), "e_t");
  auto classifier = find_mlp(model.layout(), "phi");
  if (!source || !target || !classifier) return nullptr;
  const auto enc = model.encoders();
  const auto both = span(*source, *target);
  const auto phi = span(*classifier);
  const auto cls = model.classifier();
  if (both.begin != enc.begin || both.end != enc.end ||
      entries_size(*source) + entries_size(*target) != enc.size() || phi.begin != cls.begin ||
      phi.end != cls.end || entries_size(*classifier) != cls.size()) {
    return nullptr;
  }
  const auto embed = source->back().out;
  if (target->back().out != embed || classifier->front().in != embed ||
      classifier->back().out != ctx.meta.ways || ctx.source_features.has_lengths() ||
      ctx.target_features.has_lengths() || !cpu_floats(ctx.source_features.values()) ||
      !cpu_floats(ctx.target_features.values()) || source->front().in != ctx.source_features.size(1) ||
      target->front().in != ctx.target_features.size(1)) {
    return nullptr;
  }
  std::unique_ptr<FusedInnerLoop> loop(
      new FusedInnerLoop(ctx, std::move(*source), std::move(*target), std::move(*classifier), slots));
  if (!loop->agrees_with_model()) return nullptr;
  return loop;
}

FusedInnerLoop::FusedInnerLoop(const TaskContext& ctx, std::vector<DenseLayer> source,
                               std::vector<DenseLayer> target, std::vector<DenseLayer> classifier,
                               std::int64_t slots)
    : ctx_(ctx), numel_(ctx.model.numel()) {
  fast_ = torch::zeros({slots, numel_}, torch::kFloat32);
  grad_ = torch::zeros({slots, numel_}, torch::kFloat32);
  for (std::int64_t t = 0; t < slots; ++t) {
    Slot s;
    s.source = std::make_unique<MlpKernel>(source);
    s.target = std::make_unique<MlpKernel>(target);
    s.classifier = std::make_unique<MlpKernel>(classifier);
    for (auto* k : {s.source.get(), s.target.get(), s.classifier.get()}) k->bind(fast_[t], grad_[t]);
    slots_.push_back(std::move(s));
  }
  meta_source_ = std::make_unique<MlpKernel>(std::move(source));
  meta_grad_unused_ = torch::zeros({numel_}, torch::kFloat32);
}

bool FusedInnerLoop::agrees_with_model() const {
  const auto& model = ctx_.model;
  const torch::Tensor weights = model.initial_parameters(20260101);
  fast_[0].copy_(weights);
  const auto xs = ctx_.source_features.values().narrow(0, 0, std::min<std::int64_t>(4, ctx_.source_features.size(0)));
  const auto xt = ctx_.target_features.values().narrow(0, 0, std::min<std::int64_t>(4, ctx_.target_features.size(0)));
  at::NoGradGuard no_grad;
  const auto zs = model.embed_source(weights, xs);
  const auto zt = model.embed_target(weights, xt);
  const auto logits = model.classify(weights, zs);
  auto run = [](MlpKernel& k, const torch::Tensor& x, float scale, bool normalise) {
    std::vector<std::int64_t> rows(static_cast<std::size_t>(x.size(0)));
    for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = static_cast<std::int64_t>(r);
    gather(x.contiguous(), rows, k.input(x.size(0)), scale);
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
  const auto& s = slots_[0];
  const float scale = static_cast<float>(std::sqrt(static_cast<double>(zs.size(1))));
  const bool same = torch::allclose(run(*s.source, xs, 1.0f, true), zs, 1e-4, 1e-5) &&
                    torch::allclose(run(*s.target, xt, 1.0f, true), zt, 1e-4, 1e-5) &&
                    torch::allclose(run(*s.classifier, zs, scale, false), logits, 1e-4, 1e-4);
  fast_[0].zero_();
  return same;
}

void FusedInnerLoop::embed_classification_episodes(const torch::Tensor& meta) {
  meta_source_->bind(meta, meta_grad_unused_);
  // One product per slot, not one over all slots' rows: BLAS picks its kernels (and so the
  // rounding of each row) by the product's shape, and a slot's embeddings must not depend on
  // how many other slots its rank holds (the same numbers on any layout, meta/exact_sum.h).
  const auto embed = meta_source_->out();
  for (auto& s : slots_) {
    const auto rows = s.x.size(0);
    float* in = meta_source_->input(rows);
    std::memcpy(in, s.x.data_ptr<float>(), sizeof(float) * static_cast<std::size_t>(s.x.numel()));
    const float* y = meta_source_->forward();
    std::vector<float> norms(static_cast<std::size_t>(rows));
    if (!s.embedding.defined() || s.embedding.size(0) != rows) s.embedding = torch::empty({rows, embed}, torch::kFloat32);
    normalise_rows(y, rows, embed, s.embedding.data_ptr<float>(), norms.data());
  }
}

double FusedInnerLoop::alignment_step(std::int64_t slot, const std::vector<std::int64_t>& rows_s,
                                      const std::vector<std::int64_t>& rows_t) {
  auto& s = slots_[static_cast<std::size_t>(slot)];
  const auto bs = static_cast<std::int64_t>(rows_s.size());
  const auto bt = static_cast<std::int64_t>(rows_t.size());
  gather(s.xs, rows_s, s.source->input(bs));
  gather(s.xt, rows_t, s.target->input(bt));
  const float* ys = s.source->forward();
  const float* yt = s.target->forward();
  const auto e = s.source->out();
  zs_.resize(static_cast<std::size_t>(bs * e));
  dzs_.resize(zs_.size());
  ns_.resize(static_cast<std::size_t>(bs));
  zt_.resize(static_cast<std::size_t>(bt * e));
  dzt_.resize(zt_.size());
  nt_.resize(static_cast<std::size_t>(bt));
  normalise_rows(ys, bs, e, zs_.data(), ns_.data());
  normalise_rows(yt, bt, e, zt_.data(), nt_.data());
  std::vector<std::int64_t> gs(rows_s.size()), gt(rows_t.size());
  const auto* gsp = s.gs.data_ptr<std::int64_t>();
  const auto* gtp = s.gt.data_ptr<std::int64_t>();
  for (std::size_t r = 0; r < rows_s.size(); ++r) gs[r] = gsp[rows_s[r]];
  for (std::size_t r = 0; r < rows_t.size(); ++r) gt[r] = gtp[rows_t[r]];
  const double loss = alignment_loss_and_grad(ctx_.meta, zs_.data(), zt_.data(), bs, bt, e, gs.data(), gt.data(),
                                              dzs_.data(), dzt_.data());
  normalise_rows_backward(zs_.data(), ns_.data(), dzs_.data(), bs, e, s.source->output_grad());
  normalise_rows_backward(zt_.data(), nt_.data(), dzt_.data(), bt, e, s.target->output_grad());
  s.source->backward();
  s.target->backward();
  return loss;
}

double FusedInnerLoop::classification_step(std::int64_t slot, const std::vector<std::int64_t>& rows) {
  auto& s = slots_[static_cast<std::size_t>(slot)];
  const auto b = static_cast<std::int64_t>(rows.size());
  // phi reads embeddings scaled to coordinates of order one (CromaModel::classify).
  const float scale = static_cast<float>(std::sqrt(static_cast<double>(s.embedding.size(1))));
  gather(s.embedding, rows, s.classifier->input(b), scale);
  const float* logits = s.classifier->forward();
  std::vector<std::int64_t> labels(rows.size());
  const auto* lp = s.labels.data_ptr<std::int64_t>();
  for (std::size_t r = 0; r < rows.size(); ++r) labels[r] = lp[rows[r]];
  const double loss = cross_entropy_and_grad(logits, b, s.classifier->out(), labels.data(), s.classifier->output_grad());
  s.classifier->backward();
  return loss;
}

FusedInnerLoop::Result FusedInnerLoop::run(const InnerTaskList& tasks, const torch::Tensor& meta,
                                           torch::Tensor& delta_sums, const FixedPoint& fp, std::vector<Rng>& streams,
                                           const AdamSettings& adam, PhaseTimings& timings) {
  const auto slots = static_cast<std::int64_t>(slots_.size());
  if (static_cast<std::int64_t>(streams.size()) != slots || !meta.is_contiguous() || !delta_sums.is_contiguous() ||
      meta.numel() != numel_ || delta_sums.numel() != numel_ || delta_sums.scalar_type() != torch::kInt64) {
    throw std::logic_error("FusedInnerLoop::run: slots or buffers do not match create()");
  }
  at::NoGradGuard no_grad;
  Stopwatch clock;
  Result out;
  const float* m = meta.data_ptr<float>();
  std::int64_t* d = delta_sums.data_ptr<std::int64_t>();
  float* fast = fast_.data_ptr<float>();
  const auto steps = ctx_.meta.inner_steps;
  for (const auto& task : tasks) {
    const auto range = task->range();
    for (std::int64_t t = 0; t < slots; ++t) {
      std::memcpy(fast + t * numel_ + range.begin, m + range.begin, sizeof(float) * static_cast<std::size_t>(range.size()));
    }
    clock.lap(timings.reptile);
    auto* align = dynamic_cast<AlignmentTask*>(task.get());
    auto* classify = dynamic_cast<SourceClassificationTask*>(task.get());
    for (std::int64_t t = 0; t < slots; ++t) {
      auto& s = slots_[static_cast<std::size_t>(t)];
      if (align) {
        align->sample(streams[static_cast<std::size_t>(t)], meta);
        s.xs = align->source_features().contiguous();
        s.xt = align->target_features().contiguous();
        s.gs = align->source_groups().to(torch::kInt64).contiguous();
        s.gt = align->target_groups().to(torch::kInt64).contiguous();
      } else {
        classify->draw_episode(streams[static_cast<std::size_t>(t)]);
        s.x = classify->features().contiguous();
        s.labels = classify->labels().to(torch::kInt64).contiguous();
      }
    }
    if (classify) embed_classification_episodes(meta);
    clock.lap(timings.sampling);
    adam_.reset(slots * range.size(), torch::kCPU);
    auto params = fast_.narrow(1, range.begin, range.size());
    auto grads = grad_.narrow(1, range.begin, range.size());
    std::vector<double> loss_sum(static_cast<std::size_t>(slots), 0.0);
    clock.lap(timings.optimizer);
    for (std::int64_t step = 0; step < steps; ++step) {
      for (std::int64_t t = 0; t < slots; ++t) {
        auto& rng = streams[static_cast<std::size_t>(t)];
        const auto& s = slots_[static_cast<std::size_t>(t)];
        if (align) {
          const auto [rows_s, rows_t] = align->draw_minibatch(rng, s.xs.size(0), s.xt.size(0));
          loss_sum[static_cast<std::size_t>(t)] += alignment_step(t, rows_s, rows_t);
        } else {
          loss_sum[static_cast<std::size_t>(t)] += classification_step(t, classify->draw_minibatch(rng, s.x.size(0)));
        }
      }
      clock.lap(timings.forward_backward);
      adam_.step(params, grads, adam);
      clock.lap(timings.optimizer);
    }
    // Each slot's delta fast_t - meta is rounded to fixed point on its own and added as
    // integers (accumulate_reptile_delta_exact's arithmetic): a float running sum over the
    // slots would round differently for another number of slots per rank.
    // The first slot stores (the task ranges are disjoint, checked by create(), and the
    // caller zeroes only what no task covers).
    for (std::int64_t t = 0; t < slots; ++t) {
      out.refused += (t == 0 ? store_fixed_differences : add_fixed_differences)(
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
