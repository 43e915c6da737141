#include "croma/eval/frozen_heads.h"

#include <limits>
#include <stdexcept>

#include "croma/config/options.h"

namespace croma {
namespace {

torch::Tensor as_double(const torch::Tensor& rows) {
  return rows.detach().to(torch::kCPU, torch::kFloat64).contiguous();
}

torch::Tensor label_tensor(const std::vector<std::int64_t>& labels) {
  return torch::tensor(labels, torch::dtype(torch::kInt64));
}

}  // namespace

FrozenHead parse_frozen_head(const std::string& name) {
  if (name == "prototype") return FrozenHead::kPrototype;
  if (name == "logistic") return FrozenHead::kLogistic;
  throw OptionError("unknown frozen head '" + name + "' (allowed: prototype, logistic)");
}

std::string to_string(FrozenHead head) { return head == FrozenHead::kPrototype ? "prototype" : "logistic"; }

std::vector<std::int64_t> prototype_predictions(const torch::Tensor& support,
                                                const std::vector<std::int64_t>& support_labels,
                                                const torch::Tensor& query, std::int64_t ways) {
  const auto s = as_double(support), q = as_double(query);
  auto centroids = torch::zeros({ways, s.size(1)}, s.options());
  auto counts = torch::zeros({ways}, s.options());
  const auto labels = label_tensor(support_labels);
  centroids.index_add_(0, labels, s);
  counts.index_add_(0, labels, torch::ones({s.size(0)}, s.options()));
  centroids /= counts.clamp_min(1).unsqueeze(1);
  // ||q - c||^2 term by term (not through ||q||^2 - 2 q.c + ||c||^2, which cancels). A class
  // that noisy support labels left without items is nobody's nearest.
  const auto distances = (q.unsqueeze(1) - centroids.unsqueeze(0))
                             .pow(2)
                             .sum(2)
                             .masked_fill(counts.eq(0).unsqueeze(0), std::numeric_limits<double>::infinity());
  const auto nearest = distances.argmin(1);
  return {nearest.data_ptr<std::int64_t>(), nearest.data_ptr<std::int64_t>() + nearest.numel()};
}

std::pair<torch::Tensor, torch::Tensor> fit_logistic(const torch::Tensor& support,
                                                     const std::vector<std::int64_t>& support_labels,
                                                     std::int64_t ways, const LogisticSettings& settings) {
  const auto x = as_double(support);
  const auto y = label_tensor(support_labels);
  auto weights = torch::zeros({ways, x.size(1)}, x.options()).requires_grad_(true);
  auto intercepts = torch::zeros({ways}, x.options()).requires_grad_(true);
  torch::optim::LBFGS solver({weights, intercepts}, torch::optim::LBFGSOptions(1.0)
                                                        .max_iter(settings.max_iterations)
                                                        .max_eval(settings.max_iterations * 5 / 4)
                                                        .tolerance_grad(settings.gradient_tolerance)
                                                        .tolerance_change(1e-15)
                                                        .history_size(20)
                                                        .line_search_fn("strong_wolfe"));
  const auto objective = [&] {
    solver.zero_grad();
    const auto logits = torch::addmm(intercepts, x, weights.t());
    const auto loss = settings.c * torch::nn::functional::cross_entropy(
                                       logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) +
                      0.5 * weights.pow(2).sum();
    loss.backward();
    return loss;
  };
  solver.step(objective);
  return {weights.detach(), intercepts.detach()};
}

double frozen_head_accuracy(FrozenHead head, const torch::Tensor& support,
                            const std::vector<std::int64_t>& support_labels, const torch::Tensor& query,
                            const std::vector<std::int64_t>& query_labels, std::int64_t ways,
                            const LogisticSettings& logistic) {
  torch::NoGradGuard outside_any_graph;  // the features are fixed; only the fit below uses autograd
  torch::Tensor predicted;
  if (head == FrozenHead::kPrototype) {
    const auto p = prototype_predictions(support, support_labels, query, ways);
    predicted = label_tensor(p);
  } else {
    torch::AutoGradMode fit(true);
    const auto [weights, intercepts] = fit_logistic(support, support_labels, ways, logistic);
    torch::NoGradGuard score;
    predicted = torch::addmm(intercepts, as_double(query), weights.t()).argmax(1);
  }
  return predicted.eq(label_tensor(query_labels)).to(torch::kFloat64).mean().item<double>();
}

}  // namespace croma
