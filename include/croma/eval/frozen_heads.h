#pragma once
// Few-shot heads on frozen features: the sanity rows every few-shot comparison shows
// (Chen et al. 2019, "A Closer Look at Few-shot Classification"; Tian et al. 2020,
// "Rethinking Few-Shot Image Classification: a Good Embedding Is All You Need"). Nothing is
// fine-tuned: a plain classifier is fitted on the support items' features and scored on the
// query items. Applied to an embedding (the untrained start's, a trained method's) or to the
// standardised target features themselves, it tells what the representation alone gives,
// apart from what fine-tuning phi and the meta-learned start add.
//
//  - prototype: each query goes to the class whose support mean is nearest in squared
//    Euclidean distance. Euclidean, not cosine: it is the nearest-centroid rule of
//    prototypical networks (Snell et al. 2017, who found it better than cosine), and on
//    croma's unit-length embeddings the two differ only through the means' lengths.
//  - logistic: L2-regularised multinomial logistic regression fitted on the support set,
//    minimising C * sum(cross-entropy) + ||W||^2 / 2 (the intercept not penalised), with
//    C = 1: scikit-learn's LogisticRegression default, the probe of Tian et al. A fixed C,
//    because 1-5 labelled items per class leave nothing to cross-validate it on. Fitted by
//    L-BFGS in double precision to a gradient norm of 1e-8: the problem is convex, so the
//    solution, not the solver, decides the accuracy.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace croma {

enum class FrozenHead { kPrototype, kLogistic };

FrozenHead parse_frozen_head(const std::string& name);  // "prototype" | "logistic"
std::string to_string(FrozenHead head);

struct LogisticSettings {
  double c = 1.0;                  // inverse regularisation strength, as in scikit-learn
  std::int64_t max_iterations = 500;
  double gradient_tolerance = 1e-8;
};

// Query accuracy of `head` fitted on support rows [n, d] with labels in [0, ways) and scored
// on query rows [m, d]. Rows may be float or double; the computation is in double.
double frozen_head_accuracy(FrozenHead head, const torch::Tensor& support,
                            const std::vector<std::int64_t>& support_labels, const torch::Tensor& query,
                            const std::vector<std::int64_t>& query_labels, std::int64_t ways,
                            const LogisticSettings& logistic = {});

// The nearest-centroid prediction for each query row (exposed for tests).
std::vector<std::int64_t> prototype_predictions(const torch::Tensor& support,
                                                const std::vector<std::int64_t>& support_labels,
                                                const torch::Tensor& query, std::int64_t ways);
// The fitted weights [ways, d] and intercepts [ways] (exposed for tests).
std::pair<torch::Tensor, torch::Tensor> fit_logistic(const torch::Tensor& support,
                                                     const std::vector<std::int64_t>& support_labels,
                                                     std::int64_t ways, const LogisticSettings& settings);

}  // namespace croma
