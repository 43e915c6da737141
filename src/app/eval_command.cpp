#include <ATen/Parallel.h>

#include <cstdio>
#include <iostream>

#include "croma/app/commands.h"
#include "croma/app/experiment.h"
#include "croma/config/options.h"
#include "croma/data/feature_shards.h"
#include "croma/distributed/communicator.h"
#include "croma/eval/confidence.h"
#include "croma/eval/few_shot.h"
#include "croma/eval/retrieval.h"
#include "croma/io/checkpoint.h"
#include "croma/io/read_guard.h"
#include "croma/io/run_directory.h"
#include "croma/io/run_lock.h"
#include "croma/util/runtime.h"
#include "croma/data/standardize.h"

#include <optional>

namespace croma {
namespace {

nlohmann::json summary_json(const FewShotSummary& s) {
  nlohmann::json seeds = nlohmann::json::array();
  for (const auto& r : s.per_seed) {
    seeds.push_back({{"seed", r.seed},
                     {"accuracy_mean", r.mean},
                     {"accuracy_std", r.std},
                     {"task_accuracy", r.task_accuracy}});
  }
  return {{"accuracy_mean", s.mean}, {"accuracy_std", s.std}, {"seeds", seeds}};
}

nlohmann::json metrics_json(const RetrievalMetrics& m) {
  return {{"recall_at_1", m.recall_at_1},
          {"recall_at_5", m.recall_at_5},
          {"recall_at_10", m.recall_at_10},
          {"median_rank", m.median_rank},
          {"mean_cosine_loss", m.mean_cosine_loss}};
}

nlohmann::json retrieval_json(const RetrievalResult& r) {
  nlohmann::json st = metrics_json(r.source_to_target), ts = metrics_json(r.target_to_source);
  nlohmann::json st_seeds = nlohmann::json::array(), ts_seeds = nlohmann::json::array();
  std::vector<double> r1_st, r1_ts;
  for (const auto& m : r.per_seed_source_to_target) {
    st_seeds.push_back(metrics_json(m));
    r1_st.push_back(m.recall_at_1);
  }
  for (const auto& m : r.per_seed_target_to_source) {
    ts_seeds.push_back(metrics_json(m));
    r1_ts.push_back(m.recall_at_1);
  }
  st["recall_at_1_std"] = mean_and_std(r1_st).second;
  ts["recall_at_1_std"] = mean_and_std(r1_ts).second;
  st["seeds"] = st_seeds;
  ts["seeds"] = ts_seeds;
  return {{"shots", r.shots}, {"source_to_target", st}, {"target_to_source", ts}};
}

// Where a run keeps the evaluation of each split.
std::string eval_output_name(Split split) { return split == Split::kVal ? "eval-val.json" : "eval.json"; }

}  // namespace

int run_eval_command(int argc, const char* const argv[]) {
  EvalCommandOptions e;
  if (!parse_eval_options(argc, argv, e)) return 0;
  const auto run = RunDirectory::open(e.run_dir);
  TrainOptions o;
  const auto run_config = run.read_json("config.json");
  from_json(run_config, o);
  // The run's evaluation settings are the defaults; the command line overrides them.
  EvalCommandOptions with_run_defaults;
  with_run_defaults.eval = o.eval;
  parse_eval_options(argc, argv, with_run_defaults);
  e = with_run_defaults;
  e.data = resolve_shard_paths(e.data);
  if (!e.data.empty()) {
    if (o.data.empty()) {
      throw OptionError("--data: the run in '" + e.run_dir +
                        "' was trained on the built-in concept world, not on feature shards");
    }
    // The same dataset, elsewhere: its items and class split come from the shards, and a
    // checkpoint of another shape is refused when it is read.
    o.data = e.data;
  }

  const auto comm = Communicator::world();
  if (!comm.is_root()) return 0;  // evaluation is cheap; one rank does it
  // No other writer (a training still running, another evaluation) while this one reads the
  // checkpoint and writes its output.
  const auto lock = RunLock::acquire(e.run_dir, "croma eval", {lease_from_environment(), static_cast<double>(e.lock_wait)});
  at::set_num_threads(static_cast<int>(e.threads));
  const auto device = resolve_device(e.device, comm.local_rank());
  const Split split = e.split == "val" ? Split::kVal : Split::kTest;

  const bool named = e.checkpoint == "final" || e.checkpoint == "best" || e.checkpoint == "initial";
  const auto path = named ? run.checkpoint(e.checkpoint).string() : e.checkpoint;
  // A standardising run's features are transformed with the statistics stored when it
  // started, never recomputed: the checkpoint's own record (its parameters were trained under
  // it), else config.json's.
  std::optional<FeatureStandardization> stored;
  if (o.prep.standardize == "on") {
    const auto checkpoint_config = [&] {
      ReadGuard guard("croma eval", read_time_limit());
      return nlohmann::json::parse(read_checkpoint_config(path), nullptr, false);
    }();
    const bool own = checkpoint_config.is_object() && checkpoint_config.contains("standardization");
    const auto& record = own ? checkpoint_config : run_config;
    if (!record.contains("standardization")) {
      throw std::runtime_error("the run in '" + e.run_dir + "' standardises its features but neither '" + path +
                               "' nor its config.json holds the statistics");
    }
    stored.emplace();
    try {
      from_json(record.at("standardization"), *stored);
    } catch (const StandardizationError& err) {
      throw std::runtime_error("'" + (own ? path : run.file("config.json").string()) + "': " + err.what());
    }
  }
  const auto exp = [&] {
    try {
      return std::make_unique<Experiment>(o, "croma eval", stored ? &*stored : nullptr);
    } catch (const StandardizationError& err) {
      // Statistics that do not fit the data: name the checkpoint they came from.
      throw std::runtime_error("checkpoint '" + path + "': " + err.what());
    }
  }();
  if (run_config.contains("val_items") &&
      run_config.at("val_items").get<std::vector<std::int64_t>>() != exp->held_out_val_items()) {
    throw std::runtime_error("the held-out validation items drawn now differ from those recorded in '" +
                             run.file("config.json").string() + "' (have the data changed since training?)");
  }
  exp->sampler().check_evaluation(split, e.eval);
  if (e.eval.retrieval) exp->sampler().check_retrieval(split, e.eval);
  const auto checkpoint = [&] {
    ReadGuard guard("croma eval", read_time_limit());
    return read_checkpoint(path, exp->model().layout());
  }();
  const auto initial = exp->model().initial_parameters(o.seed);
  const std::uint64_t seed = e.eval_seed != 0 ? e.eval_seed : o.seed;

  // One device copy of the target features for both evaluations.
  const auto target_features = exp->sampler().data().target.batch().to(device);
  FewShotEvaluator evaluator(exp->model(), exp->sampler(), target_features);
  nlohmann::json results = nlohmann::json::array();
  std::cerr << "croma eval: " << o.meta.method << ", " << e.eval.ways << "-way, " << e.eval.repeats
            << " seed(s) x " << e.eval.tasks << " tasks on " << to_string(split)
            << (split == Split::kVal && exp->sampler().split().val_items ? " (held-out items of meta-train)" : "")
            << " classes, checkpoint " << path << " (step " << checkpoint.step << ")\n";
  for (double noise : e.eval.label_noise) {
    for (auto k : e.eval.shots) {
      const auto trained = evaluator.evaluate_repeated(checkpoint.parameters, split, e.eval, k, seed, noise);
      const auto trained_episodes = trained.episode_accuracy();
      const auto trained_ci = t_interval(trained_episodes);
      nlohmann::json result = {{"shots", k},
                                {"label_noise", noise},
                                {"episodes", trained_ci.n},
                                {"accuracy_mean", trained.mean},
                                {"accuracy_std", trained.std},
                                {"accuracy_ci95", trained_ci.half_width},
                                {"trained", summary_json(trained)}};
      char line[240];
      if (e.skip_untrained) {
        std::snprintf(line, sizeof line, "  %2lld-shot, label noise %.2f: %.1f%% +- %.1f, 95%% CI over %lld episodes\n",
                      static_cast<long long>(k), noise, 100 * trained_ci.mean, 100 * trained_ci.half_width,
                      static_cast<long long>(trained_ci.n));
      } else {
        // The untrained start on the very same episodes; the gain is paired episode by episode.
        const auto untrained = evaluator.evaluate_repeated(initial, split, e.eval, k, seed, noise);
        const auto untrained_episodes = untrained.episode_accuracy();
        const auto untrained_ci = t_interval(untrained_episodes);
        const auto gain_ci = t_interval(paired_differences(trained_episodes, untrained_episodes));
        std::snprintf(line, sizeof line,
                      "  %2lld-shot, label noise %.2f: %.1f%% +- %.1f (untrained start %.1f%% +- %.1f; gain %+.1f +- %.1f), "
                      "95%% CI over %lld episodes\n",
                      static_cast<long long>(k), noise, 100 * trained_ci.mean, 100 * trained_ci.half_width,
                      100 * untrained_ci.mean, 100 * untrained_ci.half_width, 100 * gain_ci.mean,
                      100 * gain_ci.half_width, static_cast<long long>(trained_ci.n));
        result["initial_accuracy_mean"] = untrained.mean;
        result["initial_accuracy_std"] = untrained.std;
        result["initial_accuracy_ci95"] = untrained_ci.half_width;
        result["gain_mean"] = gain_ci.mean;
        result["gain_ci95"] = gain_ci.half_width;
        result["initial"] = summary_json(untrained);
      }
      std::cerr << line;
      results.push_back(result);
    }
  }
  nlohmann::json retrieval = nlohmann::json::array();
  if (e.eval.retrieval) {
    RetrievalEvaluator retriever(exp->model(), exp->sampler(), o.meta,
                                 exp->sampler().data().source.batch().to(device), target_features);
    for (auto k : e.eval.shots) {
      const auto r = retriever.evaluate(checkpoint.parameters, split, e.eval, k, seed);
      char line[200];
      std::snprintf(line, sizeof line,
                    "  %2lld-shot retrieval, source->target: R@1 %.1f%% R@5 %.1f%% R@10 %.1f%% median rank %.1f\n",
                    static_cast<long long>(k), 100 * r.source_to_target.recall_at_1,
                    100 * r.source_to_target.recall_at_5, 100 * r.source_to_target.recall_at_10,
                    r.source_to_target.median_rank);
      std::cerr << line;
      retrieval.push_back(retrieval_json(r));
    }
  }
  nlohmann::json summary = {{"command", "eval"},
                            {"method", o.meta.method},
                            {"run_dir", e.run_dir},
                            {"checkpoint", path},
                            {"checkpoint_step", checkpoint.step},
                            {"split", to_string(split)},
                            {"val_split", o.prep.val_split},
                            {"standardize", o.prep.standardize},
                            {"ways", e.eval.ways},
                            {"tasks", e.eval.tasks},
                            {"episodes", e.eval.tasks * e.eval.repeats},
                            {"interval", "95 % Student-t interval over episodes (accuracy_ci95, half-width)"},
                            {"repeats", e.eval.repeats},
                            {"queries", e.eval.queries},
                            {"eval_seed", seed},
                            {"head_only", e.eval.head_only},
                            {"untrained_start", !e.skip_untrained},
                            {"results", results}};
  if (e.eval.retrieval) summary["retrieval"] = retrieval;
  // What meta-training read of the target modality (Table 2's last column).
  if (std::filesystem::exists(run.file("summary.json"))) {
    const auto train_summary = run.read_json("summary.json");
    for (const char* key : {"target_samples_used", "target_labels_used"}) {
      if (train_summary.contains(key)) summary[key] = train_summary[key];
    }
  }
  // Meta-val results never overwrite the meta-test ones: model selection reads eval-val.json
  // only, tables read eval.json only.
  const auto output = eval_output_name(split);
  summary["output"] = output;
  run.write_json(output, summary);
  // stdout carries the aggregate only; per-seed detail is in eval.json.
  nlohmann::json brief = summary;
  for (auto& r : brief["results"]) {
    r.erase("trained");
    if (r.contains("initial")) r.erase("initial");
  }
  if (brief.contains("retrieval")) {
    for (auto& r : brief["retrieval"]) {
      r["source_to_target"].erase("seeds");
      r["target_to_source"].erase("seeds");
    }
  }
  std::cout << brief.dump() << std::endl;
  return 0;
}

}  // namespace croma
