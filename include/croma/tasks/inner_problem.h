#pragma once
// What one inner loop minimises, stated as data.
//
// Every built-in task (tasks/*.h) says which rows its episode holds, which encoder each row set
// goes through, which head and loss follow, and how a minibatch is drawn; it never computes a
// loss itself. One engine runs any such problem: MetaTrainer's autograd loop through
// inner_step_loss() below (the definition, and the oracle the tests compare against), or the
// fused kernels of meta/fused_inner_loop.h for the problems whose parts are all MLPs on the
// CPU. Both draw minibatches with the one draw_minibatch() below, so they consume the random
// streams identically by construction.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "croma/config/options.h"
#include "croma/data/features.h"
#include "croma/model/croma_model.h"
#include "croma/util/rng.h"

namespace croma {

// Where a row set of the episode enters the model.
enum class RowPath {
  kNone,          // no such row set
  kSource,        // source features through e_s, adapted (with a shared encoder: the shared e_s)
  kFrozenSource,  // source features through e_s at the meta-parameters, embedded once per
                  // episode (CroMA's classification task: only phi adapts)
  kTarget,        // target features through the target path, adapted
};

enum class InnerLoss {
  kCustom,           // not described: the task computes it (InnerTask::step_loss), autograd only
  kAlignment,        // alignment_loss(first, second) with group ids (eq. 2 / eq. 3)
  kClassification,   // cross-entropy of phi's N-way logits of `first` against its labels
  kSourceClasses,    // cross-entropy of the class head over phi's hidden layer (Align + Classify)
  kReconstruction,   // mean squared error of decode(first's embedding) against first's features
  kDomainAdversarial,  // discriminator + the target map passing for source (DomainObjective)
  kDomainConfusion,    // discriminator + confusion of both domains (DomainObjective)
};

std::string to_string(InnerLoss loss);

struct InnerProblem {
  InnerLoss loss = InnerLoss::kCustom;
  // The row sets by role, not by modality: `first` is the set every loss reads (a one-sided
  // task's only set; the source side of alignment and of the domain losses), `second` the other
  // side of a two-sided loss (kNone otherwise). Which modality each is, and how it enters the
  // model, is its RowPath: target classification's `first` is kTarget, alignment's kSource.
  RowPath first = RowPath::kNone, second = RowPath::kNone;
  // Rows of one inner step's minibatch: min(rows, batch) distinct rows of each row set.
  std::int64_t batch = 0;
  // The second row set's minibatch takes the first's rows (strong pairs keep rows matched).
  bool paired = false;
};

// The MLP head a problem's loss runs after the encoders.
enum class InnerHead {
  kNone,        // the loss reads the embeddings themselves (alignment)
  kClassifier,  // phi (classification)
  kClassChain,  // phi's hidden layer, then the class head (source classes)
  kDecoder,     // the decoder (reconstruction)
  kDomainHead,  // the discriminator: trained on the embeddings held fixed, then held fixed
                // itself for the encoders' loss (domain adversarial, domain confusion)
};

// Which MLP parts one inner step of a problem runs: each row set's path into the model, and
// the head after them. The one statement of it: the fused kernels (meta/fused_inner_loop.h)
// load, run and clear the parts it names, and croma bench counts their products from it.
struct InnerParts {
  RowPath first = RowPath::kNone, second = RowPath::kNone;  // as InnerProblem's
  InnerHead head = InnerHead::kNone;
};

// The parts of `problem` on a model whose parts are MLPs (`shared_encoder`: one encoder for
// both modalities), or nullopt where the fused kernels do not run it: a custom loss, or row
// paths that no built-in task poses with its loss.
std::optional<InnerParts> inner_parts(const InnerProblem& problem, bool shared_encoder);

// One episode's rows, filled by InnerTask::sample(): features of each row set, and per row its
// class label (classification) or pair group id (alignment); undefined where the loss reads none.
struct InnerEpisode {
  FeatureBatch first, second;  // the row sets of InnerProblem's first and second
  torch::Tensor first_labels, second_labels;
};

// Episode row indices of one inner step.
struct Minibatch {
  std::vector<std::int64_t> first, second;
};

// The minibatch of one inner step, drawn from rng: the first row set's rows, then (when the
// problem has a second row set and it is not paired) the second's.
Minibatch draw_minibatch(const InnerProblem& problem, const InnerEpisode& episode, Rng& rng);
// The same for an episode of these sizes (second_rows is read only when it is drawn).
Minibatch draw_minibatch(const InnerProblem& problem, std::int64_t first_rows, std::int64_t second_rows, Rng& rng);

// A minibatch's rows as int64 index tensors on the episode's device (second: undefined when
// the problem has no second row set).
struct MinibatchIndices {
  torch::Tensor first, second;
};

// The minibatches of `steps` inner steps, drawn from rng in order exactly as `steps` calls of
// draw_minibatch() draw them, and moved to `device` in one copy (not one per step).
std::vector<MinibatchIndices> draw_minibatches(const InnerProblem& problem, const InnerEpisode& episode,
                                               std::int64_t steps, Rng& rng, const torch::Device& device);

// The autograd loss of one inner step on `fast`. `frozen` holds the first row set's embeddings
// at the meta-parameters when problem.first is kFrozenSource (frozen_embeddings()), else is
// ignored.
torch::Tensor inner_step_loss(const CromaModel& model, const MetaOptions& options, const InnerProblem& problem,
                              const InnerEpisode& episode, const torch::Tensor& frozen, const Minibatch& rows,
                              const Weights& fast);
// The same with the rows as index tensors on the episode's device.
torch::Tensor inner_step_loss(const CromaModel& model, const MetaOptions& options, const InnerProblem& problem,
                              const InnerEpisode& episode, const torch::Tensor& frozen,
                              const MinibatchIndices& rows, const Weights& fast);

// Embeddings of the episode's first row set through e_s at the meta-parameters, without a
// graph; an undefined tensor unless problem.first is kFrozenSource.
torch::Tensor frozen_embeddings(const CromaModel& model, const InnerProblem& problem, const InnerEpisode& episode,
                                const torch::Tensor& meta);

}  // namespace croma
