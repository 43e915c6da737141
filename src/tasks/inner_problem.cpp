#include "croma/tasks/inner_problem.h"

#include <algorithm>
#include <stdexcept>

#include "croma/data/episode_sampler.h"
#include "croma/model/losses.h"

namespace croma {
namespace {

std::vector<std::int64_t> draw_rows(Rng& rng, std::int64_t rows, std::int64_t batch) {
  return rng.sample_without_replacement(rows, std::min(rows, batch));
}

// The normalised embeddings of a row set's minibatch on `fast` (or its frozen embeddings).
torch::Tensor embed(const CromaModel& model, RowPath path, const FeatureBatch& x, const torch::Tensor& frozen,
                    const torch::Tensor& rows, const Weights& fast) {
  switch (path) {
    case RowPath::kSource:
      return model.embed_source(fast, x.index_select(0, rows));
    case RowPath::kFrozenSource:
      return frozen.index_select(0, rows);
    case RowPath::kTarget:
      return model.embed_target(fast, x.index_select(0, rows));
    case RowPath::kNone:
      break;
  }
  throw std::logic_error("inner_step_loss: a row set the problem does not have");
}

}  // namespace

std::string to_string(InnerLoss loss) {
  switch (loss) {
    case InnerLoss::kCustom: return "custom";
    case InnerLoss::kAlignment: return "alignment";
    case InnerLoss::kClassification: return "classification";
    case InnerLoss::kSourceClasses: return "source-classes";
    case InnerLoss::kReconstruction: return "reconstruction";
    case InnerLoss::kDomainAdversarial: return "domain-adversarial";
    case InnerLoss::kDomainConfusion: return "domain-confusion";
  }
  return "?";
}

std::optional<InnerParts> inner_parts(const InnerProblem& p, bool shared_encoder) {
  const bool source_and_target = p.first == RowPath::kSource && p.second == RowPath::kTarget;
  auto with = [&](InnerHead head) { return InnerParts{p.first, p.second, head}; };
  switch (p.loss) {
    case InnerLoss::kAlignment:
      if (source_and_target) return with(InnerHead::kNone);
      break;
    case InnerLoss::kClassification:
      // Adapting e_s under phi is the shared methods' source task; with separate encoders no
      // method poses it (and its range, e_s and phi, would not be contiguous).
      if (p.first == RowPath::kFrozenSource || p.first == RowPath::kTarget ||
          (p.first == RowPath::kSource && shared_encoder)) {
        return with(InnerHead::kClassifier);
      }
      break;
    case InnerLoss::kSourceClasses:
      if (p.first == RowPath::kFrozenSource) return with(InnerHead::kClassChain);
      break;
    case InnerLoss::kReconstruction:
      if (p.first == RowPath::kTarget) return with(InnerHead::kDecoder);
      break;
    case InnerLoss::kDomainAdversarial:
    case InnerLoss::kDomainConfusion:
      if (source_and_target) return with(InnerHead::kDomainHead);
      break;
    default:
      break;
  }
  return std::nullopt;
}

Minibatch draw_minibatch(const InnerProblem& problem, std::int64_t first_rows, std::int64_t second_rows, Rng& rng) {
  Minibatch out;
  out.first = draw_rows(rng, first_rows, problem.batch);
  if (problem.second == RowPath::kNone) return out;
  out.second = problem.paired ? out.first : draw_rows(rng, second_rows, problem.batch);
  return out;
}

Minibatch draw_minibatch(const InnerProblem& problem, const InnerEpisode& episode, Rng& rng) {
  const bool second = problem.second != RowPath::kNone && !problem.paired;
  return draw_minibatch(problem, episode.first.size(0), second ? episode.second.size(0) : 0, rng);
}

torch::Tensor frozen_embeddings(const CromaModel& model, const InnerProblem& problem, const InnerEpisode& episode,
                                const torch::Tensor& meta) {
  if (problem.first != RowPath::kFrozenSource) return {};
  at::NoGradGuard no_grad;
  return model.embed_source(meta, episode.first);
}

std::vector<MinibatchIndices> draw_minibatches(const InnerProblem& problem, const InnerEpisode& episode,
                                               std::int64_t steps, Rng& rng, const torch::Device& device) {
  // Every step's rows side by side in one host buffer, [steps, first rows + second rows].
  std::vector<Minibatch> drawn;
  for (std::int64_t s = 0; s < steps; ++s) drawn.push_back(draw_minibatch(problem, episode, rng));
  if (drawn.empty()) return {};
  const auto n1 = static_cast<std::int64_t>(drawn.front().first.size());
  const auto n2 = static_cast<std::int64_t>(drawn.front().second.size());
  auto host = torch::empty({steps, n1 + n2}, torch::kInt64);
  auto* at = host.data_ptr<std::int64_t>();
  for (const auto& b : drawn) {
    at = std::copy(b.first.begin(), b.first.end(), at);
    at = std::copy(b.second.begin(), b.second.end(), at);
  }
  const auto all = host.to(device);
  std::vector<MinibatchIndices> out;
  for (std::int64_t s = 0; s < steps; ++s) {
    const auto row = all[s];
    out.push_back({row.narrow(0, 0, n1), problem.second == RowPath::kNone ? torch::Tensor() : row.narrow(0, n1, n2)});
  }
  return out;
}

torch::Tensor inner_step_loss(const CromaModel& model, const MetaOptions& options, const InnerProblem& problem,
                              const InnerEpisode& episode, const torch::Tensor& frozen, const Minibatch& rows,
                              const Weights& fast) {
  const auto device = episode.first.values().device();
  const MinibatchIndices indices{to_index_tensor(rows.first, device),
                                 problem.second == RowPath::kNone ? torch::Tensor() : to_index_tensor(rows.second, device)};
  return inner_step_loss(model, options, problem, episode, frozen, indices, fast);
}

torch::Tensor inner_step_loss(const CromaModel& model, const MetaOptions& options, const InnerProblem& problem,
                              const InnerEpisode& episode, const torch::Tensor& frozen,
                              const MinibatchIndices& rows, const Weights& fast) {
  const auto& r1 = rows.first;
  const auto z1 = embed(model, problem.first, episode.first, frozen, r1, fast);
  switch (problem.loss) {
    case InnerLoss::kAlignment: {
      const auto& r2 = rows.second;
      const auto z2 = embed(model, problem.second, episode.second, frozen, r2, fast);
      return alignment_loss(options, z1, z2, episode.first_labels.index_select(0, r1),
                            episode.second_labels.index_select(0, r2));
    }
    case InnerLoss::kClassification:
      return cross_entropy(model.classify(fast, z1), episode.first_labels.index_select(0, r1));
    case InnerLoss::kSourceClasses:
      return cross_entropy(model.classify_source_classes(fast, z1), episode.first_labels.index_select(0, r1));
    case InnerLoss::kReconstruction: {
      const auto x = episode.first.values().index_select(0, r1);
      return (model.decode(fast, z1) - x).pow(2).mean();
    }
    case InnerLoss::kDomainAdversarial:
    case InnerLoss::kDomainConfusion: {
      const auto& r2 = rows.second;
      const auto zt = embed(model, problem.second, episode.second, frozen, r2, fast);
      const auto z = torch::cat({z1, zt});
      const auto domain =
          torch::cat({torch::zeros({r1.size(0)}, r1.options()), torch::ones({r2.size(0)}, r2.options())});
      // D learns the true domains from fixed embeddings.
      const auto discriminator = cross_entropy(model.domain_logits(fast, z.detach()), domain);
      // The encoder learns against a fixed D.
      const auto frozen_head = fast.frozen();
      if (problem.loss == InnerLoss::kDomainAdversarial) {
        const auto as_source = torch::zeros({r2.size(0)}, r2.options());
        return discriminator + cross_entropy(model.domain_logits(frozen_head, zt), as_source);
      }
      // Cross-entropy against the uniform distribution over the two domains.
      const auto log_p = torch::log_softmax(model.domain_logits(frozen_head, z), 1);
      return discriminator - log_p.mean(1).mean();
    }
    case InnerLoss::kCustom:
      break;
  }
  throw std::logic_error("inner_step_loss: the task computes its own loss (" + to_string(problem.loss) + ")");
}

}  // namespace croma
