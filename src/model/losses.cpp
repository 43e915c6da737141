#include "croma/model/losses.h"

namespace croma {
namespace {

struct PairMasks {
  torch::Tensor positive;  // [Bs, Bt] float: same group
  torch::Tensor negative;  // [Bs, Bt] float: different group
  torch::Tensor anchors;   // [Bs] float: rows with at least one positive and one negative
};

PairMasks pair_masks(const torch::Tensor& source_groups, const torch::Tensor& target_groups) {
  auto same = source_groups.unsqueeze(1).eq(target_groups.unsqueeze(0));
  PairMasks m;
  m.positive = same.to(torch::kFloat32);
  m.negative = 1.0 - m.positive;
  m.anchors = (m.positive.sum(1) > 0).logical_and(m.negative.sum(1) > 0).to(torch::kFloat32);
  return m;
}

torch::Tensor mean_over_anchors(const torch::Tensor& per_anchor, const torch::Tensor& anchors) {
  return (per_anchor * anchors).sum() / anchors.sum().clamp_min(1.0);
}

}  // namespace

torch::Tensor alignment_margin_loss(const torch::Tensor& zs, const torch::Tensor& zt,
                                    const torch::Tensor& gs, const torch::Tensor& gt,
                                    double margin) {
  const auto m = pair_masks(gs, gt);
  auto s = zs.matmul(zt.t());  // [Bs, Bt]
  // hinge[i, p, n] = relu(margin - S_ip + S_in), kept where p is positive and n negative.
  auto hinge = torch::relu(margin - s.unsqueeze(2) + s.unsqueeze(1));
  auto kept = hinge * m.positive.unsqueeze(2) * m.negative.unsqueeze(1);
  auto per_anchor = kept.sum({1, 2}) / m.positive.sum(1).clamp_min(1.0);
  return mean_over_anchors(per_anchor, m.anchors);
}

torch::Tensor alignment_infonce_loss(const torch::Tensor& zs, const torch::Tensor& zt,
                                     const torch::Tensor& gs, const torch::Tensor& gt,
                                     double temperature) {
  const auto m = pair_masks(gs, gt);
  auto log_prob = torch::log_softmax(zs.matmul(zt.t()) / temperature, 1);
  auto per_anchor = -(log_prob * m.positive).sum(1) / m.positive.sum(1).clamp_min(1.0);
  return mean_over_anchors(per_anchor, m.anchors);
}

torch::Tensor alignment_loss(const AlignmentLossSettings& o, const torch::Tensor& zs, const torch::Tensor& zt,
                             const torch::Tensor& gs, const torch::Tensor& gt) {
  return o.kind == AlignLossKind::kMargin ? alignment_margin_loss(zs, zt, gs, gt, o.margin)
                                                : alignment_infonce_loss(zs, zt, gs, gt, o.temperature);
}

torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels) {
  return -torch::log_softmax(logits, 1).gather(1, labels.unsqueeze(1)).mean();
}

double accuracy(const torch::Tensor& logits, const torch::Tensor& labels) {
  return logits.argmax(1).eq(labels).to(torch::kFloat64).mean().item<double>();
}

}  // namespace croma
